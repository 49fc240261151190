"""Alert sensors on real runs in a test instance; the webhook is a real HTTP server."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest
from pytest_httpserver import HTTPServer

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from resources.alerts import AlertSinkResource
from sensors.alerting import build_quality_alert_sensor, run_failure_alert_sensor


@dg.asset
def flaky_source() -> None:
    raise RuntimeError("upstream API answered 500 three times")


def _failed_run(instance: dg.DagsterInstance, tags: dict | None = None):
    job = dg.define_asset_job("broken_job", selection=[flaky_source])
    defs = dg.Definitions(assets=[flaky_source], jobs=[job])
    result = defs.resolve_job_def("broken_job").execute_in_process(
        instance=instance, raise_on_error=False, tags=tags or {}
    )
    assert not result.success
    run = instance.get_run_by_id(result.run_id)
    failure = next(
        entry.dagster_event
        for entry in instance.all_logs(result.run_id)
        if entry.dagster_event is not None and entry.dagster_event.is_run_failure
    )
    return run, failure


def _alerts(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_run_failure_alert_names_the_run_step_error_and_link(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    log = tmp_path / "alerts.jsonl"
    sink = AlertSinkResource(
        log_path=str(log), webhook_url=httpserver.url_for("/hook"), ui_base_url="http://ui:3000"
    )
    with dg.instance_for_test() as instance:
        run, failure = _failed_run(instance)
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources={"alerts": sink},
        ).for_run_failure()
        run_failure_alert_sensor(context)
    [alert] = _alerts(log)
    assert alert["kind"] == "run_failure"
    assert alert["run_id"] == run.run_id
    assert alert["failed_steps"] == ["flaky_source"]
    assert "upstream API answered 500 three times" in alert["error"]
    assert alert["url"] == f"http://ui:3000/runs/{run.run_id}"
    posted = json.loads(httpserver.log[-1][0].get_data())
    assert posted["run_id"] == run.run_id


def test_a_run_that_will_be_retried_is_not_alerted_yet(tmp_path: Path) -> None:
    log = tmp_path / "alerts.jsonl"
    with dg.instance_for_test() as instance:
        run, failure = _failed_run(instance, tags={"dagster/will_retry": "true"})
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_alert_sensor",
            dagster_event=failure,
            dagster_instance=instance,
            dagster_run=run,
            resources={"alerts": AlertSinkResource(log_path=str(log))},
        ).for_run_failure()
        run_failure_alert_sensor(context)
    assert _alerts(log) == []


@pytest.mark.e2e
def test_failed_gate_under_warn_policy_alerts_once(settings: Settings, tmp_path: Path) -> None:
    """Under warn nothing fails the run, so the quality sensor is the only signal."""
    warn = Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(settings.data_dir),
            "PIPELINE_DATASETS_DIR": str(settings.datasets_dir),
            "PIPELINE_QUALITY_POLICY": "warn",
        }
    )
    d = build_definitions(warn)
    config = {
        "ops": {
            "sample_landing_data": {
                "config": {"customers": 300, "orders": 3000, "duplicate_key_rate": 0.02}
            }
        }
    }
    log = tmp_path / "alerts.jsonl"
    sensor = build_quality_alert_sensor(["validated_customers", "validated_orders"])
    with dg.instance_for_test() as instance:
        result = d.resolve_job_def("ingest_and_validate").execute_in_process(
            instance=instance, run_config=config
        )
        assert result.success
        resources = {"alerts": AlertSinkResource(log_path=str(log))}
        first = sensor(dg.build_sensor_context(instance=instance, resources=resources))
        again = sensor(
            dg.build_sensor_context(instance=instance, cursor=first.cursor, resources=resources)
        )
    alerts = _alerts(log)
    assert {a["asset"] for a in alerts} == {"validated_customers", "validated_orders"}
    orders = next(a for a in alerts if a["asset"] == "validated_orders")
    assert "orders_keys_unique" in orders["failed_checks"]
    assert orders["run_id"] == result.run_id
    assert again.skip_reason is not None  # the cursor moved: no second alert
    assert len(alerts) == 2
