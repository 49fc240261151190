"""The pipeline's contenders: every stage through Dagster in one run, or each stage apart.

``pipeline`` times the whole ``full_pipeline`` job in one process (``execute_in_process``),
with seconds per stage from the run's step statistics and Dagster's overhead: the run's wall
time minus the steps' time, plus the time the steps spent writing events to the instance's
event log (the steps' time includes it). ``pipeline_by_stage`` materializes each stage (asset
group) in a process of its own, so each stage's peak RSS and CPU time are its own.
"""

from __future__ import annotations

import resource
import time
from pathlib import Path
from typing import Any

from benchmarks.instance import bench_instance
from benchmarks.laps import Laps
from benchmarks.processes import emit_result, run_for_result

STAGES = ("ingestion", "validation", "enrichment", "features", "analytics", "reports")


def _definitions(data_dir: Path) -> Any:
    from pipeline_defs import build_definitions
    from pipeline_defs.settings import Settings

    return build_definitions(Settings.from_env({"PIPELINE_DATA_DIR": str(data_dir)}))


def pipeline(data_dir: Path) -> dict:
    """Run ``full_pipeline`` once; seconds per stage, event-log writes and Dagster's overhead."""
    d = _definitions(data_dir)
    group_of = {
        key.to_user_string(): group
        for a in d.assets  # type: ignore[union-attr]
        for key, group in a.group_names_by_key.items()  # type: ignore[union-attr]
    }
    config = {"ops": {"sample_landing_data": {"config": {"mode": "never"}}}}
    with bench_instance() as instance:
        writes = time_event_writes(instance)
        started = time.perf_counter()
        result = d.resolve_job_def("full_pipeline").execute_in_process(
            instance=instance, run_config=config
        )
        wall = time.perf_counter() - started
        stats = instance.get_run_step_stats(result.run_id)
    # Events a step emits (materializations, check results, logs) are written to the instance's
    # event log while the step runs, so the steps' time includes them: they are Dagster's cost,
    # not the stage's compute. The stage seconds keep them (what the UI shows per step) and
    # ``event_writes_by_stage_s`` says how much of each they are; the overhead counts them too,
    # so Dagster's writes weigh against the pipeline twice, never in its favour.
    stages: dict[str, float] = {}
    writes_by_stage: dict[str, float] = {}
    for s in stats:
        name = s.step_key
        group = group_of.get(name) or (
            "validation" if name.startswith("validate_") else group_of.get(f"raw_{name}", "other")
        )
        start, end = s.start_time or 0.0, s.end_time or 0.0
        stages[group] = stages.get(group, 0.0) + (end - start)
        writes_by_stage[group] = writes_by_stage.get(group, 0.0) + sum(
            d for at, d in writes if start <= at <= end
        )
    in_steps = sum(writes_by_stage.values())
    return {
        "stages": stages,
        "run_wall_s": wall,
        "event_writes_in_steps_s": in_steps,
        "event_writes_by_stage_s": writes_by_stage,
        "event_writes": len(writes),
        "dagster_overhead_s": wall - sum(stages.values()) + in_steps,
    }


def time_event_writes(instance: Any) -> list[tuple[float, float]]:
    """(epoch start, seconds) of every event the instance writes from now on.

    Wraps the instance's own event-log storage (the real storage), only to time it."""
    storage = instance.event_log_storage
    store = storage.store_event
    writes: list[tuple[float, float]] = []

    def timed(event: Any) -> None:
        at, started = time.time(), time.perf_counter()
        try:
            store(event)
        finally:
            writes.append((at, time.perf_counter() - started))

    storage.store_event = timed
    return writes


def stage_main(group: str, data_dir: Path) -> None:
    """Materialize one stage (asset group) in this process; print its wall time and peak RSS."""
    import dagster as dg

    d = _definitions(data_dir)
    selection = dg.AssetSelection.groups(group) - dg.AssetSelection.assets("sample_landing_data")
    with bench_instance() as instance:
        laps = Laps()
        result = dg.materialize(
            list(d.assets),  # type: ignore[arg-type]
            resources=d.resources,
            instance=instance,
            selection=selection,
        )
        laps.lap(group)
    if not result.success:
        raise SystemExit(f"stage {group} failed")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit_result({"wall_s": laps.wall[group], "cpu_s": laps.cpu[group], "peak_rss_mb": peak})


def pipeline_by_stage(data_dir: Path) -> dict:
    """Each stage in its own process, one after the other on the same lake: each stage's peak
    RSS is its own (in one process the allocator keeps what earlier stages freed), and so is
    its CPU time (all threads, from the materialization's start to its end)."""
    stages, cpu, peaks = {}, {}, {}
    for group in STAGES:
        one = run_for_result(["--stage", group, str(data_dir)], f"stage {group}")
        stages[group], cpu[group], peaks[group] = one["wall_s"], one["cpu_s"], one["peak_rss_mb"]
    return {"stages": stages, "stage_cpu_s": cpu, "stage_peak_rss_mb": peaks}
