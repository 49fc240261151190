"""A webhook that is down, under the real dagster-daemon: the failed run's alert is logged once,
retried, then dead-lettered with its reason, every sensor tick succeeds, and the webhook's token
is in none of the daemon's output, the instance's files or the alert files."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from contextlib import closing
from pathlib import Path

import pytest

from tests.e2e.daemon import (
    ROOT,
    cli_env,
    dagster,
    make_home,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.e2e
PLANTED = "PLANTEDdaemonhooktoken"

LOCATION = textwrap.dedent(
    """
    import dagster as dg

    from resources.alerts import AlertSinkResource
    from sensors.alerting import build_quality_alert_sensor, run_failure_alert_sensor


    @dg.asset
    def always_fails() -> None:
        raise RuntimeError("upstream answered 500")


    defs = dg.Definitions(
        assets=[always_fails],
        jobs=[dg.define_asset_job("failing_job", selection=[always_fails])],
        sensors=[run_failure_alert_sensor, build_quality_alert_sensor([], interval_s=2)],
        resources={
            "alerts": AlertSinkResource(
                log_path=dg.EnvVar("TEST_ALERT_LOG"),
                webhook_url=dg.EnvVar("PIPELINE_ALERT_WEBHOOK_URL"),
                webhook_max_attempts=2,
                webhook_backoff_s=1,
                timeout_s=2,
            )
        },
    )
    """
)


def test_a_down_webhook_under_the_daemon_dead_letters_and_leaks_no_token(
    tmp_path: Path, unused_port: int
) -> None:
    (tmp_path / "alert_location.py").write_text(LOCATION)
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(
        "load_from:\n"
        f"  - python_file:\n      relative_path: {tmp_path / 'alert_location.py'}\n"
        f"      working_directory: {ROOT}\n"
    )
    home = make_home(tmp_path)
    alerts = tmp_path / "alerts" / "alerts.jsonl"
    env = cli_env(
        tmp_path,
        home,
        TEST_ALERT_LOG=str(alerts),
        PIPELINE_ALERT_WEBHOOK_URL=f"http://127.0.0.1:{unused_port}/hooks/{PLANTED}?t={PLANTED}",
    )
    daemon_log = tmp_path / "daemon.log"
    dead_letters = alerts.parent / "webhook-dead-letters.jsonl"
    with running_daemon(env, daemon_log, workspace):
        launched = dagster(env, "job", "launch", "-w", str(workspace), "-j", "failing_job")
        assert launched.returncode == 0, launched.stderr[-2000:]
        wait_for("the alert to be dead-lettered", dead_letters.exists, 240, daemon_log)
    [alert] = [json.loads(line) for line in alerts.read_text().splitlines()]
    assert alert["kind"] == "run_failure" and alert["failed_steps"] == ["always_fails"]
    [dead] = [json.loads(line) for line in dead_letters.read_text().splitlines()]
    assert dead["alert"]["run_id"] == alert["run_id"] and dead["attempts"] == 2
    assert dead["reason"].startswith(f"the webhook at http://127.0.0.1:{unused_port}")
    with closing(sqlite3.connect(home / "schedules" / "schedules.db")) as db:
        statuses = [row[0] for row in db.execute("SELECT status FROM job_ticks")]
    assert statuses and "FAILURE" not in statuses, "a failed delivery fails no sensor tick"
    assert PLANTED not in daemon_log.read_text(errors="replace")
    leaked = [
        str(p.relative_to(tmp_path))
        for p in tmp_path.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".yaml") and PLANTED.encode() in p.read_bytes()
    ]
    assert leaked == []  # schedules.db, runs.db, run and compute logs, alert files, the outbox
