"""Run a named job the way the UI does, and tell the story as it goes.

The run is launched against ``workspace.yaml`` (``dagster job launch``), so it belongs to the
``dq_pipeline`` code location and shows on the job's page in the UI, and it is started by
``dagster-daemon`` through the instance's queued run coordinator, as any run from the UI is.
A daemon is started for the demo unless one (``tasks.py dev``) already serves the instance.
Progress comes from the run's event log: the steps' own log lines, each step that takes more
than a few seconds with its duration, then a closing summary (``demo.summary``).

    python -m demo.run [--verbose] [--config FILE] [--job NAME]
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

import dagster as dg

from demo.summary import CheckResult, RunFacts, load_json, refusal_reason, summary_lines

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SLOW_STEP_S = 3.0  # a step that takes longer gets a line of its own
HEARTBEAT_S = 15.0  # how often a step still running says so
QUEUE_DAEMON = "QUEUED_RUN_COORDINATOR"
LIVE_HEARTBEAT_S = 60.0  # a daemon that beat this recently is taken to be running
UNCLAIMED_S = 20.0  # a queued run nobody starts by then gets a daemon of its own


FINISHED = (
    dg.DagsterEventType.RUN_SUCCESS,
    dg.DagsterEventType.RUN_FAILURE,
    dg.DagsterEventType.RUN_CANCELED,
)


class LaunchRefused(Exception):
    """``dagster job launch`` refused the run; the message is what to tell the user."""


def launch(job: str, run_id: str, config: Path | None) -> None:
    """Create and queue the run through the code location of ``workspace.yaml``."""
    cmd = [str(BIN / "dagster"), "job", "launch", "-w", str(ROOT / "workspace.yaml")]
    cmd += ["-j", job, "--run-id", run_id, *(["-c", str(config)] if config else [])]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        output = done.stdout + done.stderr
        reason = refusal_reason(output)
        if reason:
            raise LaunchRefused(
                reason if reason.startswith("Run config") else f"Run config refused: {reason}"
            )
        tail = "\n".join(output.splitlines()[-20:])
        raise LaunchRefused(f"dagster job launch failed (exit {done.returncode}):\n{tail}")


def daemon_serves(instance: dg.DagsterInstance, ours: Path) -> bool:
    """Whether a daemon dequeued runs for this instance within the last minute (it beats every
    30 s; Dagster's own health check tolerates 30 minutes of silence, far too long to tell a
    running ``tasks.py dev`` from a daemon stopped a minute ago). A previous demo's daemon,
    whose id is in ``ours``, does not count: it was stopped when its demo ended."""
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    last_demo = ours.read_text().strip() if ours.exists() else None
    return (
        beat is not None
        and time.time() - beat.timestamp < LIVE_HEARTBEAT_S
        and beat.daemon_id != last_demo
    )


def remember_daemon(instance: dg.DagsterInstance, ours: Path) -> None:
    """Note the id of the daemon this demo ran (its heartbeats outlive it)."""
    beat = instance.get_daemon_heartbeats().get(QUEUE_DAEMON)
    if beat is not None and beat.daemon_id:
        ours.write_text(beat.daemon_id)


@contextlib.contextmanager
def daemon(log: Path) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` for the length of the block, its output in ``log``."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Ask the daemon to shut down (it stops its code server too), then insist."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, KeyboardInterrupt):
        proc.kill()
        proc.wait()


def _value(entry: dg.MetadataValue | Any) -> Any:
    return entry.value if isinstance(entry, dg.MetadataValue) else entry


class Follower:
    """Reads one run's events as they are written and prints the story."""

    def __init__(self, instance: dg.DagsterInstance, run_id: str, verbose: bool, out: TextIO):
        self.instance, self.run_id, self.verbose, self.out = instance, run_id, verbose, out
        self.cursor: str | None = None
        # Running steps: when they started and when they last printed (epoch seconds, as the
        # events are stamped).
        self.started: dict[str, float] = {}
        self.heard: dict[str, float] = {}
        self.done = 0
        self.total = 0
        self.materialized: dict[str, dict[str, Any]] = {}
        self.checks: list[CheckResult] = []
        self.failed_steps: list[tuple[str, str]] = []
        self.began: float | None = None
        self.ended: float | None = None

    def say(self, step: str | None, text: str) -> None:
        where = f"[{self.done:>{len(str(self.total))}}/{self.total}] " if self.total else ""
        print(f"  {where}{step + ': ' if step else ''}{text}", file=self.out, flush=True)
        if step in self.started:
            self.heard[step] = time.time()

    def poll(self) -> None:
        while True:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self.cursor, limit=500)
            for record in conn.records:
                self.handle(record.event_log_entry)
            self.cursor = conn.cursor
            if not conn.has_more:
                return

    def heartbeat(self) -> None:
        now = time.time()
        for step, began in self.started.items():
            if now - began >= HEARTBEAT_S and now - self.heard.get(step, began) >= HEARTBEAT_S:
                self.say(step, f"still running ({now - began:.0f} s)")

    def handle(self, entry: dg.EventLogEntry) -> None:
        event, step = entry.dagster_event, entry.step_key
        if self.verbose:
            stamp = datetime.fromtimestamp(entry.timestamp).strftime("%H:%M:%S")
            kind = event.event_type_value if event else "LOG"
            level = (
                logging.getLevelName(entry.level) if isinstance(entry.level, int) else entry.level
            )
            print(f"{stamp} {level:<7} {step or '-':<28} {kind:<28} {entry.message}", file=self.out)
        if event is None:
            level = entry.level if isinstance(entry.level, int) else logging.INFO
            if not self.verbose and level >= logging.INFO:
                self.say(step, entry.message)
            return
        kind = event.event_type
        if kind == dg.DagsterEventType.RUN_START:
            self.began = entry.timestamp
            run = self.instance.get_run_by_id(self.run_id)
            self.total = len(run.step_keys_to_execute or []) if run else 0
            if not self.verbose:
                self.say(None, f"run {self.run_id} started: {self.total} steps")
        elif kind in FINISHED:
            self.ended = entry.timestamp
        elif kind == dg.DagsterEventType.STEP_START and step:
            self.started[step] = entry.timestamp
        elif kind in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE) and step:
            self._finished(entry, step, failed=kind == dg.DagsterEventType.STEP_FAILURE)
        elif kind == dg.DagsterEventType.ASSET_MATERIALIZATION and entry.asset_materialization:
            m = entry.asset_materialization
            meta = {k: _value(v) for k, v in m.metadata.items()}
            self.materialized[m.asset_key.to_user_string()] = meta
        elif kind == dg.DagsterEventType.ASSET_CHECK_EVALUATION:
            self._check(event.event_specific_data)

    def _finished(self, entry: dg.EventLogEntry, step: str, failed: bool) -> None:
        began = self.started.pop(step, entry.timestamp)
        self.heard.pop(step, None)
        self.done += 1
        took = entry.timestamp - began
        if failed:
            data = entry.dagster_event.event_specific_data if entry.dagster_event else None
            error = getattr(data, "error", None)
            first = (error.message if error else entry.message).strip().splitlines()
            self.failed_steps.append((step, first[0] if first else "failed"))
            if not self.verbose:
                self.say(step, f"FAILED after {took:.1f} s: {first[0] if first else ''}")
        elif took >= SLOW_STEP_S and not self.verbose:
            self.say(step, f"finished in {took:.1f} s")

    def _check(self, evaluation: Any) -> None:
        severity = getattr(evaluation.severity, "value", str(evaluation.severity))
        self.checks.append(
            CheckResult(
                name=evaluation.check_name,
                asset=evaluation.asset_key.to_user_string(),
                severity=str(severity),
                passed=bool(evaluation.passed),
                description=evaluation.description,
                metadata={k: _value(v) for k, v in (evaluation.metadata or {}).items()},
            )
        )

    def follow(
        self,
        daemon_proc: subprocess.Popen | None,
        start_daemon: Callable[[], subprocess.Popen],
    ) -> dg.DagsterRun:
        """Print the run's story until it finishes; the finished run. Where no daemon was
        started for it and none starts the run in ``UNCLAIMED_S``, one is started."""
        waited = time.monotonic()
        said_waiting = False
        while True:
            self.poll()
            run = self.instance.get_run_by_id(self.run_id)
            if run is None:
                raise LaunchRefused(f"run {self.run_id} is not in the instance")
            if run.is_finished:
                self.poll()
                return run
            queued = run.status in (dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED)
            if queued and not said_waiting and time.monotonic() - waited > 10:
                self.say(None, "queued; waiting for the daemon to start it")
                said_waiting = True
            if queued and daemon_proc is None and time.monotonic() - waited > UNCLAIMED_S:
                self.say(None, "no daemon took the run; starting dagster-daemon")
                daemon_proc = start_daemon()
            if daemon_proc is not None and daemon_proc.poll() is not None:
                raise LaunchRefused(f"dagster-daemon exited (code {daemon_proc.returncode})")
            self.heartbeat()
            time.sleep(0.5)


def facts_of(run: dg.DagsterRun, follower: Follower, job: str) -> RunFacts:
    return RunFacts(
        job=job,
        run_id=run.run_id,
        status=run.status.value,
        seconds=max((follower.ended or time.time()) - (follower.began or time.time()), 0.0),
        materialized=follower.materialized,
        checks=follower.checks,
        failed_steps=follower.failed_steps,
    )


def extra_outputs() -> dict[str, str]:
    """Outputs the run's metadata does not name (the summary shows those that exist)."""
    data = Path(os.environ.get("PIPELINE_DATA_DIR", "data")).absolute()
    return {
        "warehouse (DuckDB)": os.environ.get(
            "PIPELINE_WAREHOUSE_PATH", str(data / "warehouse.duckdb")
        ),
        "quarantined files": str(data / "quarantine"),
        "alerts": str(data / "alerts" / "alerts.jsonl"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo.run", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="every event, DEBUG included")
    parser.add_argument("-c", "--config", type=Path, help="run config (YAML) for the job")
    parser.add_argument("--job", default="full_pipeline")
    args = parser.parse_args(argv)
    run_id = str(uuid.uuid4())
    home = Path(os.environ["DAGSTER_HOME"])
    with dg.DagsterInstance.get() as instance:
        try:
            return demo(instance, args, run_id, home)
        except KeyboardInterrupt:
            # The run worker got the same Ctrl-C and stopped its run; the daemon has stopped.
            run = instance.get_run_by_id(run_id)
            state = run.status.value if run else "not created"
            print(f"\nInterrupted. Run {run_id}: {state}.", file=sys.stderr)
            return 130


def demo(instance: dg.DagsterInstance, args: argparse.Namespace, run_id: str, home: Path) -> int:
    with contextlib.ExitStack() as stack:
        own_daemon = not daemon_serves(instance, home / "demo-daemon.id")
        print(
            f"Launching {args.job} in the dq_pipeline code location"
            + (" and starting dagster-daemon (20-40 s) ..." if own_daemon else " ..."),
            flush=True,
        )
        log = home / "demo-daemon.log"
        started: list[subprocess.Popen] = []

        def start_daemon() -> subprocess.Popen:
            # Once it has stopped (the stack unwinds in reverse), its id is noted.
            stack.callback(remember_daemon, instance, home / "demo-daemon.id")
            started.append(stack.enter_context(daemon(log)))
            return started[-1]

        proc = start_daemon() if own_daemon else None
        follower = Follower(instance, run_id, args.verbose, sys.stdout)
        try:
            launch(args.job, run_id, args.config)
            run = follower.follow(proc, start_daemon)
        except LaunchRefused as refused:
            print(str(refused), file=sys.stderr)
            return 1
        for proc in started:
            proc.send_signal(signal.SIGTERM)  # it shuts down while the summary is built
        facts = facts_of(run, follower, args.job)
        insights = load_json(follower.materialized.get("insights_report", {}).get("json"))
        hint = f"In the UI (python3 tasks.py dev): http://127.0.0.1:3000/runs/{run_id}"
        lines = summary_lines(facts, insights, paths=extra_outputs(), ui_hint=hint)
        print("", *lines, sep="\n", flush=True)
        return 0 if facts.status == "SUCCESS" else 1


if __name__ == "__main__":
    sys.exit(main())
