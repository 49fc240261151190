"""The stream sensor: polls each stream dataset's lag and requests ``raw_<dataset>`` plus its
validation when enough events wait or the oldest has waited long enough.

The ``run_key`` is the waiting entry range, so a repeated tick never starts a second run for the
same events; while a run of a dataset is queued or running no other is requested (one consumer
per dataset at a time). Each run takes at most the spec's ``max_events``, so a backlog drains in
bounded runs, one after another. The JSON cursor keeps, per dataset, when a backlog was first
seen (Kafka has no arrival time for waiting messages) and the last range requested.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from assets.core.spec import DatasetSpec
from assets.ingestion.streams.defs import RESOURCE_KEY, open_stream
from assets.ingestion.streams.trigger import decide

IN_FLIGHT = [
    dg.DagsterRunStatus.QUEUED,
    dg.DagsterRunStatus.NOT_STARTED,
    dg.DagsterRunStatus.STARTING,
    dg.DagsterRunStatus.STARTED,
]
TAG = "pipeline/stream"


def stream_targets(spec: DatasetSpec) -> list[dg.AssetKey]:
    return [dg.AssetKey(f"{p}_{spec.name}") for p in ("raw", "validated", "quarantined")]


def _in_flight(context: dg.SensorEvaluationContext, dataset: str) -> bool:
    runs = context.instance.get_runs(
        filters=dg.RunsFilter(tags={TAG: dataset}, statuses=IN_FLIGHT), limit=1
    )
    return bool(runs)


def _evaluate(context: dg.SensorEvaluationContext, specs: list[DatasetSpec]) -> dg.SensorResult:
    cursor = json.loads(context.cursor) if context.cursor else {}
    now = datetime.now(UTC)
    requests, skips = [], []
    for spec in specs:
        state = cursor.get(spec.name, {})
        if _in_flight(context, spec.name):
            skips.append(f"{spec.name}: a run is in flight")
            continue
        with open_stream(spec, context.resources) as backend:
            lag = backend.lag()
        seen = datetime.fromisoformat(state["seen"]) if state.get("seen") else None
        seen = (seen or now) if lag.total else None
        trigger = decide(spec, lag, now, seen)
        state = {"seen": seen.isoformat() if seen else None, "requested": state.get("requested")}
        if trigger.run:
            state["requested"] = trigger.run_key
            requests.append(
                dg.RunRequest(
                    run_key=trigger.run_key,
                    asset_selection=stream_targets(spec),
                    run_config={
                        "ops": {
                            f"raw_{spec.name}": {"config": {"max_events": spec.source.max_events}}
                        }
                    },
                    tags={TAG: spec.name, "pipeline/stream_lag": str(lag.total)},
                )
            )
            context.log.info(f"{spec.name}: run requested: {trigger.reason}.")
        else:
            skips.append(f"{spec.name}: {trigger.reason}")
        cursor[spec.name] = state
    return dg.SensorResult(
        run_requests=requests,
        skip_reason="; ".join(skips) if not requests and skips else None,
        cursor=json.dumps(cursor, sort_keys=True),
    )


def build_stream_sensor(
    specs: list[DatasetSpec], *, interval_s: int, running: bool
) -> dg.SensorDefinition | None:
    """One sensor over every stream dataset (None when there is none); running on a fresh
    instance only when a broker is configured."""
    streams = sorted((s for s in specs if s.source.kind == "stream"), key=lambda s: s.name)
    if not streams:
        return None

    @dg.sensor(
        name="stream_sensor",
        target=dg.AssetSelection.assets(*[k for s in streams for k in stream_targets(s)]),
        minimum_interval_seconds=interval_s,
        required_resource_keys={RESOURCE_KEY[s.source.backend] for s in streams},
        default_status=(
            dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
        ),
        description="Requests raw_<dataset> and its validation for each stream dataset once "
        "batch_events events wait or the oldest has waited batch_wait_s (spec settings).",
    )
    def stream_sensor(context: dg.SensorEvaluationContext, **_brokers: Any) -> dg.SensorResult:
        # Dagster passes the required resources as keyword arguments too; the evaluation reads
        # them from the context, where they also are.
        return _evaluate(context, streams)

    return stream_sensor
