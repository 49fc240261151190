"""Helpers for tests that run the real dagster-daemon and CLI as subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def make_home(tmp_path: Path, source: Path | None = None, **overrides: Any) -> Path:
    """A DAGSTER_HOME holding the committed instance config, with test-speed intervals."""
    home = tmp_path / "dagster_home"
    home.mkdir(exist_ok=True)
    config = yaml.safe_load((source or ROOT / "dagster.yaml").read_text())
    config["run_monitoring"]["poll_interval_seconds"] = 3
    config.update(overrides)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config))
    if source is None:
        # A fresh SQLite home is given its schema by whichever process opens it first; the daemon
        # and a CLI call started together both try, and one dies on alembic's version row.
        # Creating it here leaves the tests to race only on what they test.
        with dg.DagsterInstance.from_config(str(home)):
            pass
    return home


def cli_env(tmp_path: Path, home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
        "PIPELINE_SENSOR_INTERVAL_S": "3",
        **extra,
    }


def dagster(env: dict[str, str], *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "dagster"), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@contextlib.contextmanager
def running_daemon(
    env: dict[str, str], log: Path, workspace: Path | str = "workspace.yaml"
) -> Iterator[subprocess.Popen]:
    """``dagster-daemon run`` in its own process group; killed (with its children) on exit."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            yield proc
        finally:
            kill_group(proc, signal.SIGKILL)


def kill_group(proc: subprocess.Popen, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=30)


@contextlib.contextmanager
def instance_at(home: Path) -> Iterator[dg.DagsterInstance]:
    previous = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(home)
    try:
        with dg.DagsterInstance.get() as instance:
            yield instance
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = previous


def wait_for(
    what: str,
    predicate: Callable[[], Any],
    timeout: float,
    log: Path | None = None,
    every: float = 1.0,
):
    """Poll `predicate` every `every` seconds until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    tail = log.read_text(errors="replace")[-4000:] if log and log.exists() else ""
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{tail}")


def wait_for_run(instance, run_id: str, what: str, timeout: float, log: Path | None = None):
    """Wait until the run is finished and return its final status."""
    wait_for(what, lambda: instance.get_run_by_id(run_id).is_finished, timeout, log)
    return instance.get_run_by_id(run_id).status
