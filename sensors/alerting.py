"""Alerts: a failed run, and a failed quality gate (which fails no run under the warn policy).

Webhook deliveries go through the alert sink's outbox: a failed one is retried by the quality
gate sensor's later ticks, then dead-lettered, and never fails a tick or holds back other alerts.
"""

from __future__ import annotations

import json

import dagster as dg

from resources.alerts import AlertSinkResource

WILL_RETRY = "dagster/will_retry"


def run_failure_alert(
    run_id: str, job: str, steps: list[str], error: str, sink: AlertSinkResource
) -> dict:
    return {
        "kind": "run_failure",
        "run_id": run_id,
        "job": job,
        "failed_steps": steps,
        "error": error[:2000],
        "url": sink.run_url(run_id),
    }


@dg.run_failure_sensor(
    name="run_failure_alert_sensor",
    description="On a failed run, writes an alert (run id, failed steps, error, link) to the "
    "alert sink. Runs that the instance will retry are not alerted until their last try.",
    default_status=dg.DefaultSensorStatus.RUNNING,
)
def run_failure_alert_sensor(
    context: dg.RunFailureSensorContext, alerts: AlertSinkResource
) -> None:
    run = context.dagster_run
    if run.tags.get(WILL_RETRY) == "true":
        context.log.info(f"Run {run.run_id} will be retried; no alert yet.")
        return
    failures = context.get_step_failure_events()
    steps = sorted({e.step_key for e in failures if e.step_key})
    error = context.failure_event.message or ""
    if failures and failures[0].event_specific_data is not None:
        err = getattr(failures[0].event_specific_data, "error", None)
        if err is not None:
            error = err.to_string()
    report = alerts.send(run_failure_alert(run.run_id, run.job_name, steps, error, alerts))
    if report is not None:
        context.log.info(report.summary())


def build_quality_alert_sensor(
    validated_assets: list[str], interval_s: int = 60
) -> dg.SensorDefinition:
    """Alert when a ``validated_<dataset>`` materialization records failed gates; each tick also
    retries the webhook alerts whose backoff has passed."""

    @dg.sensor(
        name="quality_gate_alert_sensor",
        description="Alerts when a validated_<dataset> materialization records failed quality "
        "gates (under the warn policy nothing else fails, so this is the only signal). Each "
        "tick also retries undelivered webhook alerts.",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def quality_gate_alert_sensor(
        context: dg.SensorEvaluationContext, alerts: AlertSinkResource
    ) -> dg.SensorResult:
        cursor: dict[str, int] = json.loads(context.cursor) if context.cursor else {}
        retried = alerts.deliver_pending()
        if retried is not None and (retried.delivered or retried.retrying or retried.dead_lettered):
            context.log.info(retried.summary())
        sent = 0
        for name in validated_assets:
            records = context.instance.fetch_materializations(
                dg.AssetRecordsFilter(
                    asset_key=dg.AssetKey(name), after_storage_id=cursor.get(name)
                ),
                limit=100,
                ascending=True,
            ).records
            for record in records:
                cursor[name] = max(cursor.get(name, 0), record.storage_id)
                mat = record.asset_materialization
                meta = mat.metadata if mat else {}
                gates = meta.get("gates_failed")
                failed = list(gates.value) if gates is not None else []  # type: ignore[arg-type]
                if not failed:
                    continue
                score = meta.get("quality_score")
                report = alerts.send(
                    {
                        "kind": "quality_gate",
                        "asset": name,
                        "failed_checks": failed,
                        "quality_score": score.value if score is not None else None,
                        "run_id": record.run_id,
                        "url": alerts.run_url(record.run_id),
                    }
                )
                if report is not None:
                    context.log.info(report.summary())
                sent += 1
        return dg.SensorResult(
            cursor=json.dumps(cursor, sort_keys=True),
            skip_reason=None if sent else dg.SkipReason("no failed gates"),
        )

    return quality_gate_alert_sensor
