"""Webhook alerts through the outbox: a webhook that is down, refuses, or redirects elsewhere
never fails a sensor tick, never repeats an alert in the log, never holds back the alerts after
it, and never writes its token anywhere. Real HTTP servers on loopback, a real instance."""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from assets.core.outbox import DEAD_LETTER_FILE, OUTBOX_FILE, DeliveryPolicy, WebhookOutbox
from resources.alerts import AlertSinkResource
from sensors.alerting import build_quality_alert_sensor

PLANTED = "PLANTEDhooktoken"
HOOK_PATH = f"/services/T000/{PLANTED}"


def hook_url(port: int) -> str:
    return f"http://127.0.0.1:{port}{HOOK_PATH}?sig={PLANTED}-sig"


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def files_holding(root: Path, needle: str) -> list[str]:
    return [
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and needle.encode() in p.read_bytes()
    ]


def fail_a_gate(instance: dg.DagsterInstance, asset: str, check: str) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(
            asset_key=asset, metadata={"gates_failed": [check], "quality_score": 0.5}
        )
    )


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[dg.DagsterInstance]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as inst:
        yield inst


def test_a_down_webhook_fails_no_tick_repeats_nothing_and_blocks_nothing(
    tmp_path: Path,
    instance: dg.DagsterInstance,
    unused_port: int,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.DEBUG)
    log = tmp_path / "data" / "alerts" / "alerts.jsonl"
    sink = AlertSinkResource(
        log_path=str(log),
        webhook_url=hook_url(unused_port),
        webhook_max_attempts=2,
        webhook_backoff_s=0,
        timeout_s=2,
    )
    sensor = build_quality_alert_sensor(["validated_orders"])

    def tick(cursor: str | None) -> dg.SensorResult:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"alerts": sink}
        )
        result = sensor(context)
        assert isinstance(result, dg.SensorResult)
        return result

    fail_a_gate(instance, "validated_orders", "orders_keys_unique")
    first = tick(None)  # the webhook is down: the tick still succeeds and moves its cursor
    assert [a["failed_checks"] for a in lines(log)] == [["orders_keys_unique"]]

    fail_a_gate(instance, "validated_orders", "orders_amount_range")
    second = tick(first.cursor)  # alert 1 fails its 2nd attempt: dead-lettered; alert 2 queued
    assert [a["failed_checks"] for a in lines(log)] == [
        ["orders_keys_unique"],
        ["orders_amount_range"],
    ], "each alert is logged once, and the second is not held back by the first"
    [dead] = lines(log.parent / DEAD_LETTER_FILE)
    assert dead["alert"]["failed_checks"] == ["orders_keys_unique"]
    assert dead["attempts"] == 2
    where = f"the webhook at http://127.0.0.1:{unused_port}"
    assert dead["reason"].startswith(f"{where} is unreachable")

    # The webhook comes back: the queued alert goes out on the next tick, nothing is lost.
    received: list[dict] = []
    server = HTTPServer(host="127.0.0.1", port=unused_port)
    server.expect_request(HOOK_PATH, method="POST").respond_with_handler(
        lambda r: (received.append(json.loads(r.get_data())), Response("ok"))[1]
    )
    server.start()
    try:
        third = tick(second.cursor)
    finally:
        server.stop()
    assert [a["failed_checks"] for a in received] == [["orders_amount_range"]]
    assert third.skip_reason is not None  # nothing new: no alert logged again
    assert len(lines(log)) == 2
    assert sqlite3.connect(log.parent / OUTBOX_FILE).execute(
        "SELECT count(*) FROM outbox"
    ).fetchone() == (0,)

    out, err = capfd.readouterr()
    # Every log record but the test webhook server's own access log.
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name != "werkzeug")
    assert PLANTED not in ours + out + err
    assert files_holding(tmp_path, PLANTED) == []  # alert files, outbox, instance sqlite files


def test_a_refused_alert_is_dead_lettered_at_once_and_the_next_goes_out(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    def hook(request: Request) -> Response:
        body = json.loads(request.get_data())
        return Response("gone", status=410) if body["n"] == 1 else Response("ok")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook)
    sink = AlertSinkResource(
        outbox_dir=str(tmp_path / "outbox"), webhook_url=httpserver.url_for("/hook")
    )
    first = sink.send({"n": 1})
    second = sink.send({"n": 2})
    assert first is not None and (first.dead_lettered, first.pending) == (1, 0)
    assert second is not None and (second.delivered, second.pending) == (1, 0)
    [dead] = lines(tmp_path / "outbox" / DEAD_LETTER_FILE)
    assert dead["alert"]["n"] == 1 and dead["attempts"] == 1
    assert dead["reason"].endswith("answered 410")


def test_a_failed_alert_waits_for_its_backoff(tmp_path: Path, unused_port: int) -> None:
    outbox = WebhookOutbox(
        tmp_path, hook_url(unused_port), DeliveryPolicy(max_attempts=5, backoff_s=60)
    )
    outbox.enqueue({"n": 1})
    t0 = time.time() + 1
    assert outbox.deliver_due(now=t0).retrying == 1
    # Not due again before its backoff: nothing is sent, it stays queued.
    again = outbox.deliver_due(now=t0 + 5)
    assert (again.retrying, again.dead_lettered, again.pending) == (0, 0, 1)
    assert DeliveryPolicy(backoff_s=60, backoff_max_s=300).delay(1) == 60
    assert DeliveryPolicy(backoff_s=60, backoff_max_s=300).delay(3) == 240
    assert DeliveryPolicy(backoff_s=60, backoff_max_s=300).delay(9) == 300


def test_a_webhook_redirecting_elsewhere_is_dead_lettered_and_the_other_origin_hears_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    elsewhere = HTTPServer(host="127.0.0.1", port=0)
    elsewhere.start()
    try:
        elsewhere.expect_request("/steal").respond_with_data("ok")
        httpserver.expect_request(HOOK_PATH, method="POST").respond_with_response(
            Response(status=307, headers={"Location": f"http://localhost:{elsewhere.port}/steal"})
        )
        sink = AlertSinkResource(
            outbox_dir=str(tmp_path), webhook_url=hook_url(httpserver.port), timeout_s=2
        )
        report = sink.send({"n": 1})
        assert elsewhere.log == []
    finally:
        elsewhere.stop()
    assert report is not None and report.dead_lettered == 1
    [dead] = lines(tmp_path / DEAD_LETTER_FILE)
    assert "redirected to another origin" in dead["reason"]
    assert files_holding(tmp_path, PLANTED) == []


def test_a_webhook_without_a_folder_for_its_queue_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="outbox_dir: a webhook needs a folder"):
        AlertSinkResource(webhook_url="http://127.0.0.1:1/hook")
