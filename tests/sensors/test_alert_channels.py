"""Slack and e-mail alerts against real servers on loopback: an HTTP server that checks Slack's
incoming-webhook shape, and an aiosmtpd SMTP server."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message

import dagster as dg
import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from resources.alerts import AlertSinkResource
from sensors.alerting import build_check_alert_sensor
from tests.runs import alert_run_failure


def _valid_slack_body(body: dict) -> bool:
    """Slack's documented incoming-webhook body: a text fallback plus Block Kit blocks."""
    if not isinstance(body.get("text"), str) or not body["text"]:
        return False
    blocks = body.get("blocks")
    if not isinstance(blocks, list) or not 0 < len(blocks) <= 50:
        return False
    kinds = {"header", "section", "actions", "context", "divider"}
    return all(isinstance(b, dict) and b.get("type") in kinds for b in blocks)


@pytest.fixture
def slack(httpserver: HTTPServer) -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    def handler(request: Request) -> Response:
        body = json.loads(request.get_data())
        if request.headers.get("Content-Type", "").split(";")[0] != "application/json":
            return Response("invalid_payload", status=400)
        if not _valid_slack_body(body):
            return Response("invalid_blocks", status=400)
        received.append(body)
        return Response("ok", status=200)

    httpserver.expect_request("/services/T0/B0/x", method="POST").respond_with_handler(handler)
    yield httpserver.url_for("/services/T0/B0/x"), received


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, _Inbox]]:
    inbox = _Inbox()
    with socket.socket() as probe:  # aiosmtpd connects to its own port to start: not port 0
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, inbox
    finally:
        controller.stop()


def _table(passed: bool, value: float, name: str = "orders") -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        check_specs=[
            dg.AssetCheckSpec("completeness", asset=name, blocking=True),
            dg.AssetCheckSpec("drift", asset=name),  # not blocking: never alerted here
        ],
    )
    def _asset():
        yield dg.Output(None)
        meta = {"value": value, "threshold": 0.99, "failing_rows": 12}
        yield dg.AssetCheckResult(check_name="completeness", passed=passed, metadata=meta)
        yield dg.AssetCheckResult(check_name="drift", passed=False)

    return _asset


def _tick(sensor, instance, sink, cursor):
    defs = dg.Definitions(assets=[_table(True, 1.0), _table(True, 1.0, "customers")])
    context = dg.build_sensor_context(
        instance=instance, cursor=cursor, resources={"alerts": sink}, definitions=defs
    )
    result = sensor(context)
    return result.cursor


def test_a_failed_blocking_check_alerts_once_until_it_passes(slack, smtp):
    url, payloads = slack
    port, inbox = smtp
    sink = AlertSinkResource(
        slack_webhook_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        email_to="oncall@example.org",
        ui_base_url="http://ui:3000",
    )
    sensor = build_check_alert_sensor()
    with dg.instance_for_test() as instance:

        def step(passed: bool, name: str = "orders") -> None:
            assert (
                dg.materialize(
                    [_table(passed, 0.97, name)], instance=instance, raise_on_error=False
                ).success
                is not None
            )

        cursor = None
        step(False)
        cursor = _tick(sensor, instance, sink, cursor)
        assert len(payloads) == 1 and len(inbox.messages) == 1
        step(False)  # still failing: no second alert
        cursor = _tick(sensor, instance, sink, cursor)
        assert len(payloads) == 1
        step(True)
        cursor = _tick(sensor, instance, sink, cursor)
        assert len(payloads) == 1
        step(False)  # failing again after a pass: alerted again
        step(False, name="customers")  # another asset's check, same tick
        cursor = _tick(sensor, instance, sink, cursor)
    assert len(payloads) == 3 and len(inbox.messages) == 3
    first = payloads[0]
    print("SLACK PAYLOAD:", json.dumps(first, indent=1))
    fields = " ".join(f["text"] for f in first["blocks"][1]["fields"])
    for text in ("orders", "completeness", "0.97", "0.99", "12"):
        assert text in fields
    assert first["blocks"][-1]["elements"][0]["url"].startswith("http://ui:3000/runs/")
    assert {p["blocks"][0]["text"]["text"] for p in payloads[1:]} == {
        "Blocking check failed: orders / completeness",
        "Blocking check failed: customers / completeness",
    }
    mail = inbox.messages[0]
    print("E-MAIL:\n" + mail.as_string())
    assert mail["To"] == "oncall@example.org"
    assert mail["Subject"] == "[dq-pipeline] Blocking check failed: orders / completeness"
    body = mail.get_payload(decode=True).decode()
    assert "failing_rows: 12" in body and "threshold: 0.99" in body and "/runs/" in body


@dg.asset
def broken_source() -> None:
    raise RuntimeError("upstream API answered 500 three times")


def test_a_failed_run_goes_to_slack_and_email(slack, smtp):
    url, payloads = slack
    port, inbox = smtp
    sink = AlertSinkResource(
        slack_webhook_url=url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_starttls=False,
        email_to="a@example.org, b@example.org",
    )
    with dg.instance_for_test() as instance:
        result = dg.materialize([broken_source], instance=instance, raise_on_error=False)
        alert_run_failure(instance, result.run_id, sink)
    assert len(payloads) == 1 and payloads[0]["blocks"][0]["text"]["text"].startswith("Run failed")
    assert "upstream API answered 500" in json.dumps(payloads[0])
    assert len(inbox.messages) == 1 and inbox.messages[0]["To"] == "a@example.org, b@example.org"


def test_sinks_are_off_unless_configured(slack, smtp):
    url, payloads = slack
    _, inbox = smtp
    assert AlertSinkResource().notify({"kind": "run_failure", "job": "j", "run_id": "r"}) == []
    assert payloads == [] and inbox.messages == []
    # A sink that answers with an error is reported, not raised, and the other still sends.
    broken = AlertSinkResource(slack_webhook_url=url + "-gone", smtp_host="127.0.0.1", smtp_port=1)
    problems = broken.notify({"kind": "run_failure", "job": "j", "run_id": "r"})
    assert len(problems) == 1 and problems[0].startswith("slack: Slack webhook answered 500")
    assert "/services/" not in problems[0]  # the URL is the credential: never repeated


def test_stale_data_alerts_every_sink_once_until_fresh_again(settings, slack, tmp_path):
    from pipeline_defs import build_definitions
    from tests.assets.ingestion.test_freshness import EVENTS, land_events

    url, payloads = slack
    settings.datasets_dir.mkdir(parents=True)
    (settings.datasets_dir / "events.yaml").write_text(EVENTS)
    d = build_definitions(settings)
    sensor = d.resolve_sensor_def("blocking_check_alert_sensor")
    log = tmp_path / "alerts.jsonl"
    sink = AlertSinkResource(log_path=str(log), slack_webhook_url=url, ui_base_url="http://ui")
    with dg.instance_for_test() as instance:
        cursor = None

        def run_at(as_of: str) -> None:
            nonlocal cursor
            config = {"ops": {"raw_events": {"config": {"as_of": as_of}}}}
            assert dg.materialize(
                list(d.assets or []),  # type: ignore[arg-type]
                selection="raw_events",
                resources=d.resources,
                instance=instance,
                run_config=config,
                tags={"dagster/schedule_name": "daily_pipeline_schedule"},
            ).success
            context = dg.build_sensor_context(
                instance=instance, cursor=cursor, resources={"alerts": sink}, definitions=d
            )
            cursor = sensor(context).cursor

        land_events(settings, "a.csv", [("e1", "2026-12-07T10:00:00")])
        run_at("2026-12-07T12:00:00Z")  # 2 h: fresh
        run_at("2026-12-07T14:00:00Z")  # 4 h: late, a warning only
        assert payloads == []
        run_at("2026-12-07T17:00:00Z")  # 7 h: stale
        run_at("2026-12-07T18:00:00Z")  # still stale: no second alert
        assert len(payloads) == 1
        land_events(settings, "b.csv", [("e2", "2026-12-07T17:30:00")])
        run_at("2026-12-07T18:00:00Z")  # fresh again: re-armed
        run_at("2026-12-08T01:00:00Z")  # stale again
    assert len(payloads) == 2
    first = payloads[0]
    assert first["blocks"][0]["text"]["text"] == "Data stale: raw_events (newest row 7.0 h old)"
    fields = " ".join(f["text"] for f in first["blocks"][1]["fields"])
    for text in ("events_fresh", "2026-12-07T10:00:00+00:00", "7.0", "6.0"):
        assert text in fields
    logged = [json.loads(line) for line in log.read_text().splitlines()]
    assert [(a["kind"], a["lag_hours"]) for a in logged] == [
        ("stale_data", 7.0),
        ("stale_data", 7.5),
    ]
