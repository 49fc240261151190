"""Faults injected into real runs: the dagster-daemon and run workers are subprocesses.

1. The same file dropped twice with a daemon restart in between starts exactly one run.
2. A run worker killed with SIGKILL mid-run is failed by run monitoring and retried from
   failure: only the unfinished steps run again, and the data equals an uninterrupted run's.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.core.storage import LakeAt
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from tests.e2e.daemon import (
    cli_env,
    dagster,
    instance_at,
    make_home,
    running_daemon,
    wait_for,
    wait_for_run,
)

pytestmark = pytest.mark.e2e

SHIPMENTS = {
    "name": "shipments",
    "key": ["shipment_id"],
    "columns": [
        {"name": "shipment_id", "type": "string", "required": True, "unique": True},
        {"name": "weight_kg", "type": "float", "min": 0},
    ],
}


def _runs(instance: dg.DagsterInstance, **tags: str) -> list[dg.DagsterRun]:
    return list(instance.get_runs(filters=dg.RunsFilter(tags=tags)))


def test_same_file_twice_across_a_daemon_restart_starts_one_run(tmp_path: Path) -> None:
    home = make_home(tmp_path)
    env = cli_env(tmp_path, home)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "shipments.yaml").write_text(json.dumps(SHIPMENTS))
    folder = tmp_path / "data" / "landing" / "shipments"
    folder.mkdir(parents=True)
    log = tmp_path / "daemon.log"
    started = dagster(env, "sensor", "start", "landing_zone_sensor", "-w", "workspace.yaml")
    assert started.returncode == 0, started.stderr[-2000:]
    data = b"shipment_id,weight_kg\nS1,1.5\nS2,2.5\n"

    with instance_at(home) as instance:
        with running_daemon(env, log):
            (folder / "a.csv").write_bytes(data)
            [run] = wait_for(
                "the sensor's run",
                lambda: _runs(instance, **{"pipeline/dataset": "shipments"}),
                180,
                log,
            )
            status = wait_for_run(instance, run.run_id, "the run to finish", 180, log)
        assert status == dg.DagsterRunStatus.SUCCESS

        # The daemon was killed (SIGKILL). The same bytes arrive again under another name.
        (folder / "a-again.csv").write_bytes(data)
        ticks_before = log.read_text().count("landing_zone_sensor")
        with running_daemon(env, log):
            wait_for(
                "three sensor ticks after the restart",
                lambda: log.read_text().count("landing_zone_sensor") >= ticks_before + 3,
                180,
                log,
            )
            assert len(_runs(instance, **{"pipeline/dataset": "shipments"})) == 1
            # The sensor is alive and moving: a genuinely new file starts the second run.
            (folder / "b.csv").write_bytes(b"shipment_id,weight_kg\nS3,3\n")
            wait_for(
                "a run for the new file",
                lambda: len(_runs(instance, **{"pipeline/dataset": "shipments"})) == 2,
                120,
                log,
            )
        keys = {
            r.tags.get("dagster/run_key")
            for r in _runs(instance, **{"pipeline/dataset": "shipments"})
        }
        assert len(keys) == 2


def _fingerprint(data_dir: Path) -> dict[str, tuple[int, int]]:
    """Row count and an order-free checksum of the business columns of every validation table."""
    out = {}
    lake = LakeAt(str(data_dir / "lake"))
    for table in sorted((data_dir / "lake" / "validation").iterdir()):
        if not table.name.startswith(("validated_", "quarantined_")):
            continue
        parts = lake.parts("validation", table.name)  # a validated table's published version
        if not parts:
            continue
        frame = pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed")
        business = [c for c in frame.columns if not c.startswith("_") or c in ("_rules", "_reason")]
        frame = frame.select(business)
        out[table.name] = (frame.height, int(frame.hash_rows(seed=7).sum()))
    return out


CONFIG = {"ops": {"sample_landing_data": {"config": {"customers": 20_000, "orders": 400_000}}}}


def test_killed_run_worker_is_retried_from_failure_with_identical_data(tmp_path: Path) -> None:
    baseline = Settings.from_env({"PIPELINE_DATA_DIR": str(tmp_path / "baseline")})
    with dg.instance_for_test() as instance:
        result = (
            build_definitions(baseline)
            .resolve_job_def("ingest_and_validate")
            .execute_in_process(instance=instance, run_config=CONFIG)
        )
        assert result.success
    expected = _fingerprint(tmp_path / "baseline")
    # The same seed gives the same bytes: the run under test starts from the baseline's landing
    # zone (its generator step finds files and leaves them) instead of generating them again.
    shutil.copytree(tmp_path / "baseline" / "landing", tmp_path / "data" / "landing")

    home = make_home(tmp_path)
    env = cli_env(tmp_path, home)
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    log = tmp_path / "daemon.log"
    with instance_at(home) as instance, running_daemon(env, log):
        launched = dagster(
            env,
            "job",
            "launch",
            "-w",
            "workspace.yaml",
            "-j",
            "ingest_and_validate",
            "-c",
            str(config),
        )
        assert launched.returncode == 0, launched.stderr[-2000:]
        [run] = instance.get_runs()
        target = "validate_orders"

        def started_target() -> int | None:
            pid = None
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is None:
                    continue
                if event.event_type_value == "ENGINE_EVENT" and pid is None:
                    found = re.search(r"pid: (\d+)", entry.message or "")
                    pid = int(found.group(1)) if found else None
                if event.is_step_start and event.step_key == target:
                    return pid
            return None

        # The step takes ~0.8 s here, so a 1 s poll could see its start only after it had
        # finished: poll every 20 ms so that the kill lands inside the step.
        pid = wait_for(f"{target} to start", started_target, 300, log, every=0.02)
        os.kill(pid, signal.SIGKILL)
        wait_for(
            "run monitoring to fail the dead run",
            lambda: instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE,  # type: ignore[union-attr]
            180,
            log,
        )
        retry = wait_for(
            "the retry run",
            lambda: _runs(instance, **{"dagster/parent_run_id": run.run_id}),
            180,
            log,
        )[0]
        status = wait_for_run(instance, retry.run_id, "the retry to finish", 300, log)
        assert status == dg.DagsterRunStatus.SUCCESS
        assert retry.tags.get("dagster/retry_strategy") in (None, "FROM_FAILURE")
        first_done = {
            s.step_key
            for s in instance.get_run_step_stats(run.run_id)
            if s.status and s.status.value == "SUCCESS"
        }
        rerun = {s.step_key for s in instance.get_run_step_stats(retry.run_id)}
    assert "sample_landing_data" in first_done
    assert target in rerun
    assert not (first_done & rerun), "a step that finished before the kill ran again"
    assert _fingerprint(tmp_path / "data") == expected
