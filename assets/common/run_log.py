"""What one run's event log says about its steps: when each started and succeeded or failed,
and what each materialized, for the pipeline report."""

import time
from collections.abc import Mapping
from typing import Any

import dagster as dg

STEP_EVENTS = {
    dg.DagsterEventType.STEP_START: "start",
    dg.DagsterEventType.STEP_SUCCESS: "success",
    dg.DagsterEventType.STEP_FAILURE: "failure",
}


def _int(metadata: Mapping[str, Any], key: str) -> int | None:
    value = metadata.get(key)
    return int(value.value) if value is not None else None  # type: ignore[arg-type]


def run_records(
    context: dg.AssetExecutionContext,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float, float]:
    """From this run's event log: the step start/success/failure events, each materialization
    with its step and rows, when the run started and when this step started (Unix seconds)."""
    wanted = {
        *STEP_EVENTS,
        dg.DagsterEventType.RUN_START,
        dg.DagsterEventType.ASSET_MATERIALIZATION,
    }
    records = context.instance.all_logs(context.run.run_id, of_type=wanted)
    events, mats, starts = [], [], []
    for record in records:
        kind = record.dagster_event_type
        if kind is not None and kind in STEP_EVENTS and record.step_key:
            events.append(
                {"step": record.step_key, "event": STEP_EVENTS[kind], "at": record.timestamp}
            )
        elif kind == dg.DagsterEventType.RUN_START:
            starts.append(record.timestamp)
        elif (mat := record.asset_materialization) is not None:
            mats.append(
                {
                    "step": record.step_key,
                    "asset": mat.asset_key.to_user_string(),
                    "rows_in": _int(mat.metadata, "rows_in"),
                    "rows_out": _int(mat.metadata, "rows_out"),
                }
            )
    mine = [
        e["at"]
        for e in events
        if e["step"] == context.op_execution_context.op_handle.name and e["event"] == "start"
    ]
    first = min((e["at"] for e in events), default=time.time())
    return events, mats, min(starts, default=first), max(mine, default=time.time())
