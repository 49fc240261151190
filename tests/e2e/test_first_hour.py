"""A new user's first hour, as typed: `python3 tasks.py demo` and `dev`, and the README's CI block
on a clean checkout. Every command runs as a subprocess against a temp instance and data root."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import dagster as dg
import pytest

from tests.e2e.daemon import instance_at
from tests.servers import wait_until_up

ROOT = Path(__file__).resolve().parents[2]
SMALL = "ops:\n  sample_landing_data:\n    config: {customers: 300, orders: 3000}\n"
# The tag the UI's job page filters runs by (DagsterTag.RepositoryLabelTag in the UI's source).
REPOSITORY_TAG = ".dagster/repository"

pytestmark = pytest.mark.e2e


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPELINE_", "DAGSTER_")) or k == "PIPELINE_TEST_PG_URL"
    }
    return {
        **env,
        "DAGSTER_HOME": str(tmp_path / "home"),
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
        **extra,
    }


def _tasks(tmp_path: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "tasks.py"), *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_demo_tells_its_run_and_the_run_shows_on_the_job_page(tmp_path):
    (tmp_path / "small.yaml").write_text(SMALL)
    done = _tasks(tmp_path, "demo", "-c", "small.yaml")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert done.stderr.strip() == ""
    assert "DEBUG" not in out and "Traceback" not in out
    assert "sample_landing_data: Generating: " in out and "(100%)" in out
    assert re.search(r"^full_pipeline succeeded in .+ \(run [0-9a-f-]{36}\)\.$", out, re.M)
    links = re.findall(r"file://\S+", out)
    names = {Path(link.removeprefix("file://")).name for link in links}
    assert {"quality_report.html", "insights_report.html", "pipeline_report.html"} <= names
    assert "exports" in names
    assert all(Path(link.removeprefix("file://")).exists() for link in links)
    # A folder is named only where it exists (no file was quarantined: there is none).
    assert ("quarantined files" in out) == (tmp_path / "data" / "quarantine").exists()
    run_id = re.search(r"\(run ([0-9a-f-]{36})\)", out).group(1)  # type: ignore[union-attr]
    with instance_at(tmp_path / "home") as instance:
        on_job_page = instance.get_runs(
            dg.RunsFilter(
                job_name="full_pipeline", tags={REPOSITORY_TAG: "__repository__@dq_pipeline"}
            )
        )
        assert [r.run_id for r in on_job_page] == [run_id]
        # The summary's figures are the run's: orders as validation recorded them.
        event = instance.get_latest_materialization_event(dg.AssetKey("validated_orders"))
        meta = event.asset_materialization.metadata  # type: ignore[union-attr]
    row = next(line.split() for line in out.splitlines() if line.strip().startswith("orders "))
    assert row[1:4] == [
        f"{meta['rows_in'].value:,}",
        f"{meta['rows_valid'].value:,}",
        f"{meta['rows_quarantined'].value:,}",
    ]


def test_an_out_of_range_config_is_refused_with_its_reason_only(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "ops:\n  sample_landing_data:\n    config: {defect_rate: 0.9}\n"
    )
    done = _tasks(tmp_path, "demo", "-c", "bad.yaml")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "Run config for job full_pipeline refused before the run started:",
        "  ops.sample_landing_data.config.defect_rate: Input should be less than or equal to "
        "0.2 (got 0.9)",
    ]
    with instance_at(tmp_path / "home") as instance:
        assert instance.get_runs() == []


def _graphql(base: str, query: str) -> dict:
    request = urllib.request.Request(
        base + "/graphql",
        data=json.dumps({"query": query}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
        return json.load(response)


SENSOR_STATE = """{ sensorOrError(sensorSelector: {repositoryLocationName: "dq_pipeline",
  repositoryName: "__repository__", sensorName: "automation_sensor"}) {
  ... on Sensor { sensorState { status } } } }"""


def test_dev_runs_automation_and_stops_on_ctrl_c_without_a_traceback(tmp_path, unused_port):
    log = tmp_path / "dev.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, str(ROOT / "tasks.py"), "dev", "-p", str(unused_port)],
            cwd=tmp_path,
            env=_env(tmp_path),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the Ctrl-C below reaches every process
        )
    base = f"http://127.0.0.1:{unused_port}"
    try:
        assert wait_until_up(base + "/server_info", proc, 240), log.read_text()[-3000:]
        deadline = time.monotonic() + 240
        status = None
        while status is None and time.monotonic() < deadline:
            found = _graphql(base, SENSOR_STATE)["data"]["sensorOrError"]
            status = (found.get("sensorState") or {}).get("status")
            time.sleep(1)
        assert status == "RUNNING"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    text = log.read_text()
    # Dagster logs its own clean shutdown last; tasks.py adds nothing after it.
    assert "Traceback" not in text, text[-3000:]
    assert text.rstrip().endswith("Dagster services shut down."), text[-3000:]
    assert code == 130


def readme_ci_block() -> str:
    """The first bash block of the README's "Running from CI" section."""
    section = (ROOT / "README.md").read_text().split("\n## Running from CI\n", 1)[1]
    return section.split("```bash\n", 1)[1].split("```", 1)[0]


def test_the_readme_ci_block_runs_as_written_on_a_clean_checkout(tmp_path):
    # The tracked (and new, not ignored) files only: no .venv, no .dagster_home, no data.
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    checkout = tmp_path / "checkout"
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (checkout / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, checkout / name)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PIPELINE_", "DAGSTER_", "UV_PROJECT", "VIRTUAL_ENV"))
    }
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_ci_block()],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-5000:]
    assert (checkout / "data" / "lake" / "reports").is_dir()
    assert (checkout / ".dagster_home" / "dagster.yaml").is_file()
