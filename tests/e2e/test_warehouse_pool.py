"""Two runs that write the DuckDB warehouse at once: the `warehouse` pool lets one step in at a
time, so the second step waits for a slot instead of for DuckDB's file lock."""

import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from resources.warehouse import WAREHOUSE_POOL
from tests.e2e.daemon import cli_env, instance_at, make_home

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
pytestmark = pytest.mark.e2e


def _materialize(env: dict[str, str], select: str) -> subprocess.Popen:
    return subprocess.Popen(
        [DAGSTER, "asset", "materialize", "-m", "pipeline_defs", "--select", select],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _step_window(instance: dg.DagsterInstance, run_id: str) -> tuple[float, float]:
    events = [e for e in instance.all_logs(run_id) if e.dagster_event is not None]
    start = next(
        e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_START
    )
    end = next(
        e.timestamp for e in events if e.dagster_event_type == dg.DagsterEventType.STEP_SUCCESS
    )
    return start, end


def test_two_runs_writing_the_warehouse_take_turns(tmp_path):
    home = make_home(tmp_path)  # the committed dagster.yaml: pools.default_limit 1
    env = cli_env(tmp_path, home)
    sample = _materialize(env, "sample_landing_data")
    _, err = sample.communicate(timeout=300)
    assert sample.returncode == 0, err[-3000:]

    runs = [_materialize(env, "raw_customers"), _materialize(env, "raw_products")]
    for proc in runs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]

    with instance_at(home) as instance:
        records = instance.get_run_records(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]), ascending=True
        )
        assert len(records) == 3
        windows = sorted(_step_window(instance, r.dagster_run.run_id) for r in records[1:])
        # The second step starts only after the first has finished and released its slot.
        assert windows[0][1] <= windows[1][0], windows
        blocked = [
            e.message
            for r in records[1:]
            for e in instance.all_logs(r.dagster_run.run_id)
            if e.message.startswith("Step blocked by limit for pool")
        ]
        info = instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
    # Whichever run came second was told why it waited; both slots are free again.
    assert blocked == [f"Step blocked by limit for pool {WAREHOUSE_POOL}"], blocked
    assert info.slot_count == 1 and info.active_slot_count == 0
