"""The Dagster UI as people use it: `dagster dev` driven by Debian's headless Chromium.

Playwright (Python) drives the system browser (/usr/bin/chromium, installed by .ci/run); it never
downloads a browser of its own. Screenshots of every page are kept in the test's temp folder.
Select it alone with ``-m ui``.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.servers import BROWSER_ARGS, chromium_path, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
CHROMIUM = chromium_path() or "/usr/bin/chromium"
UI_BROWSER_ARGS = [*BROWSER_ARGS, "--disable-quic"]
GROUPS = ["ingestion", "validation", "enrichment", "features", "analytics", "reports"]

pytestmark = [pytest.mark.e2e, pytest.mark.ui]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graphql(base: str, query: str, variables: dict | None = None) -> dict:
    request = urllib.request.Request(
        base + "/graphql",
        data=json.dumps({"query": query, "variables": variables or {}}).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # loopback only
            return json.load(response)
    except urllib.error.HTTPError as error:  # a refused launch answers 500 with a GraphQL body
        return json.load(error)


@pytest.fixture
def dagster_dev(tmp_path: Path) -> Iterator[str]:
    """`dagster dev` (webserver and daemon) on a free loopback port with a temp DAGSTER_HOME."""
    if not Path(CHROMIUM).exists():
        pytest.skip("Chromium is not installed (apt-get install chromium; .ci/run does it)")
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = _free_port()
    env = {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
    }
    log = (tmp_path / "dagster_dev.log").open("wb")
    proc = subprocess.Popen(
        [DAGSTER, "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so teardown stops every child
    )
    base = f"http://127.0.0.1:{port}"
    if not wait_until_up(base + "/server_info", proc, 180):
        os.killpg(proc.pid, signal.SIGKILL)
        raise RuntimeError(
            "dagster dev did not start:\n" + (tmp_path / "dagster_dev.log").read_text()[-3000:]
        )
    try:
        yield base
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=20)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # children that outlived their parent
        log.close()


def test_launch_ingest_and_validate_from_the_ui(dagster_dev: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    base = dagster_dev
    shots = tmp_path / "screenshots"
    shots.mkdir()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=UI_BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})

        # Dagster's welcome dialog can open a while after the page loads (later on a loaded
        # machine), and its backdrop then takes every click. Playwright dismisses it whenever
        # it shows before an action, instead of checking once at load. The handler is the only
        # thing that clicks Skip: a second, explicit click can race it and then wait 30 s for a
        # button the handler has already closed.
        page.add_locator_handler(
            page.get_by_role("button", name="Skip"),
            lambda skip: skip.click(),
        )

        # 1. The asset graph shows the six stages as groups.
        page.goto(base + "/asset-groups", wait_until="networkidle", timeout=120_000)
        for group in GROUPS:
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=shots / "1-asset-graph.png")

        # 2. Launch ingest_and_validate from its job page.
        page.goto(
            base + "/locations/dq_pipeline/jobs/ingest_and_validate",
            wait_until="networkidle",
            timeout=120_000,
        )
        page.get_by_text("Read new landing files into the lake").first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Materialize all").click()
        page.get_by_text("Launched run").first.wait_for(timeout=60_000)
        page.screenshot(path=shots / "2-launched.png")

        # 3. Wait for the run to succeed (the daemon dequeues it; the run worker executes it).
        deadline = time.monotonic() + 300
        runs: list[dict] = []
        while time.monotonic() < deadline:
            runs = [
                r
                for r in _graphql(base, RUNS)["data"]["runsOrError"]["results"]
                # Declarative automation may start the later stages afterwards: not this run.
                if r["jobName"] == "ingest_and_validate"
            ]
            if runs and runs[0]["status"] in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(2)
        assert len(runs) == 1, runs
        assert runs[0]["status"] == "SUCCESS", runs
        page.goto(base + f"/runs/{runs[0]['runId']}", wait_until="networkidle", timeout=120_000)
        page.get_by_text("Success").first.wait_for(timeout=60_000)
        page.screenshot(path=shots / "3-run.png")

        # 4. The validated asset shows its quality score and its check results.
        page.goto(base + "/assets/validated_orders", wait_until="networkidle", timeout=120_000)
        page.get_by_text("quality_score", exact=True).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "Row count" in body and "Stable order identifier" in body  # column descriptions
        page.screenshot(path=shots / "4-asset.png", full_page=True)
        page.goto(
            base + "/assets/validated_orders?view=checks", wait_until="networkidle", timeout=120_000
        )
        page.get_by_text("orders_keys_unique", exact=True).first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "This is a blocking asset check." in body
        assert "Succeeded" in body
        page.screenshot(path=shots / "5-checks.png", full_page=True)
        browser.close()
    assert len(list(shots.glob("*.png"))) == 5

    # 5. Out-of-range config is refused at launch, by the same GraphQL call the launchpad's
    #    Launch button makes: an error naming the field, and no run is created.
    launched = _graphql(base, LAUNCH, {"params": _launch_params(bad_defect_rate=0.9)})
    answer = launched["data"]["launchRun"]
    assert answer["__typename"] != "LaunchRunSuccess", answer
    assert "ops.sample_landing_data.config.defect_rate" in json.dumps(answer), answer
    names = [r["jobName"] for r in _graphql(base, RUNS)["data"]["runsOrError"]["results"]]
    assert "generate_sample_data" not in names, names


LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on PythonError { message causes { message } }
    ... on RunConfigValidationInvalid { errors { message } }
    ... on InvalidSubsetError { message }
  }
}
"""
RUNS = "{ runsOrError { ... on Runs { results { runId status jobName } } } }"


def _launch_params(bad_defect_rate: float) -> dict:
    return {
        "selector": {
            "repositoryLocationName": "dq_pipeline",
            "repositoryName": "__repository__",
            "jobName": "generate_sample_data",
        },
        "runConfigData": {
            "ops": {"sample_landing_data": {"config": {"defect_rate": bad_defect_rate}}}
        },
        "mode": "default",
    }
