"""Alerts leave the pipeline (a file people read, a webhook into chat): personal data in an
error message is masked in both."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
from pytest_httpserver import HTTPServer

from resources.alerts import AlertSinkResource
from sensors.alerting import run_failure_alert_sensor

EMAIL = "zelda.quixotewright@privacy-probe.example"
PHONE = "+33 6 47 58 69 12"


@dg.asset
def contacts_export() -> None:
    raise ValueError(f"cannot publish the contact {EMAIL} ({PHONE}): the CRM refused it")


def test_a_failed_runs_alert_masks_emails_and_phones_in_file_and_webhook(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    log = tmp_path / "alerts.jsonl"
    sink = AlertSinkResource(log_path=str(log), webhook_url=httpserver.url_for("/hook"))
    with dg.instance_for_test() as instance:
        job = dg.define_asset_job("contacts_job", selection=[contacts_export])
        defs = dg.Definitions(assets=[contacts_export], jobs=[job])
        result = defs.resolve_job_def("contacts_job").execute_in_process(
            instance=instance, raise_on_error=False
        )
        failure = next(
            e.dagster_event
            for e in instance.all_logs(result.run_id)
            if e.dagster_event is not None and e.dagster_event.is_run_failure
        )
        run = instance.get_run_by_id(result.run_id)
        assert run is not None
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources={"alerts": sink},
        ).for_run_failure()
        run_failure_alert_sensor(context)
    written = log.read_text()
    posted = httpserver.log[-1][0].get_data(as_text=True)
    for text in (written, posted):
        assert "the CRM refused it" in text  # the error is there, its personal data is not
        assert EMAIL not in text and "quixotewright" not in text
        assert "47 58 69" not in text
        assert "z***@privacy-probe.example" in text and "+33 ** ** ** 12" in text
    assert json.loads(written)["failed_steps"] == ["contacts_export"]
