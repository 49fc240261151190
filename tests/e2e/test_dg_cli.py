"""`dg` (dagster-dg-cli) on this code location, as subprocesses, beside the `dagster` CLI."""

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipeline_defs import build_definitions
from tests.e2e.daemon import cli_env, instance_at, make_home

ROOT = Path(__file__).resolve().parents[2]
DG = str(Path(sys.executable).with_name("dg"))
pytestmark = pytest.mark.e2e


def _dg(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    # dg compares the active venv with the project's .venv and warns when they differ.
    env = {**env, "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    return subprocess.run(
        [DG, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_dg_check_and_list_see_the_code_location(tmp_path, settings):
    env = cli_env(tmp_path, make_home(tmp_path))
    check = _dg(env, "check", "defs")
    assert check.returncode == 0, check.stdout[-2000:] + check.stderr[-2000:]
    assert "All definitions loaded successfully" in check.stdout + check.stderr

    listed = _dg(env, "list", "defs", "--json")
    assert listed.returncode == 0, listed.stderr[-2000:]
    defs = json.loads(listed.stdout)
    # The same definitions that `dagster -m pipeline_defs` loads, not some other module.
    graph = build_definitions(settings).resolve_asset_graph()
    expected = {k.to_user_string() for k in graph.get_all_asset_keys()}
    assert {a["asset_key"] for a in defs["assets"]} == expected
    assert "full_pipeline" in {j["name"] for j in defs["jobs"]}


def test_dg_launch_materializes_one_asset_into_the_instance(tmp_path):
    home = make_home(tmp_path)
    env = cli_env(tmp_path, home)
    done = _dg(env, "launch", "--assets", "sample_landing_data")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr
    assert any((tmp_path / "data" / "landing" / "orders").glob("*.csv"))
    with instance_at(home) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("sample_landing_data"))
        assert event is not None
        run = instance.get_run_by_id(event.run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.SUCCESS
