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
    alert = run_failure_alert(run.run_id, run.job_name, steps, error, alerts)
    report = alerts.send(alert)
    if report is not None:
        context.log.info(report.summary())
    for problem in alerts.notify(alert):
        context.log.warning(f"Alert for run {run.run_id} not sent: {problem}")


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


def _meta(evaluation: dg.AssetCheckEvaluation, key: str) -> object:
    value = evaluation.metadata.get(key)
    return getattr(value, "value", value)


def check_failure_alert(evaluation: dg.AssetCheckEvaluation, run_id: str, url: str) -> dict:
    return {
        "kind": "check_failure",
        "asset": evaluation.asset_key.to_user_string(),
        "check": evaluation.check_name,
        "value": _meta(evaluation, "value"),
        "threshold": _meta(evaluation, "threshold"),
        "failing_rows": _meta(evaluation, "failing_rows"),
        "run_id": run_id,
        "url": url,
    }


def stale_data_alert(evaluation: dg.AssetCheckEvaluation, run_id: str, url: str) -> dict:
    return {
        "kind": "stale_data",
        "asset": evaluation.asset_key.to_user_string(),
        "check": evaluation.check_name,
        "newest_row": _meta(evaluation, "newest_row"),
        "lag_hours": _meta(evaluation, "lag_hours"),
        "max_lag_hours": _meta(evaluation, "max_lag_hours"),
        "run_id": run_id,
        "url": url,
    }


def build_check_alert_sensor(
    interval_s: int = 60, freshness_checks: frozenset[str] = frozenset()
) -> dg.SensorDefinition:
    """One alert per failed blocking check of any asset, and per data-freshness check (named in
    ``freshness_checks``) that finds its data stale. The cursor keeps the checks whose failure
    was alerted: they stay quiet while they keep failing and re-arm when they pass."""

    @dg.sensor(
        name="blocking_check_alert_sensor",
        description="Sends a Slack message and/or e-mail (where configured) when a blocking "
        "asset check fails or a dataset's data is stale (its <dataset>_fresh check errs); a "
        "check that keeps failing alerts again only after it has passed.",
        minimum_interval_seconds=interval_s,
        default_status=dg.DefaultSensorStatus.RUNNING,
    )
    def blocking_check_alert_sensor(
        context: dg.SensorEvaluationContext, alerts: AlertSinkResource
    ) -> dg.SensorResult:
        state = json.loads(context.cursor) if context.cursor else {}
        seen: dict[str, int] = state.get("seen", {})
        failing: set[str] = set(state.get("failing", []))
        repo = context.repository_def
        check_keys = sorted(repo.asset_graph.asset_check_keys, key=str) if repo else []
        storage = context.instance.event_log_storage
        sent = 0
        for check_key in check_keys:
            key = f"{check_key.asset_key.to_user_string()}:{check_key.name}"
            history = storage.get_asset_check_execution_history(check_key, limit=100)
            for record in sorted(history, key=lambda r: r.id):
                if record.id <= seen.get(key, 0) or record.event is None:
                    continue
                seen[key] = record.id
                event = record.event.dagster_event
                evaluation = event.event_specific_data if event else None
                if not isinstance(evaluation, dg.AssetCheckEvaluation):
                    continue  # planned, not yet evaluated
                if evaluation.passed:
                    failing.discard(key)
                    continue
                # What Dagster itself treats as blocking: a failed blocking check of ERROR severity.
                error = evaluation.severity == dg.AssetCheckSeverity.ERROR
                stale = error and evaluation.check_name in freshness_checks
                if not (stale or (error and evaluation.blocking)) or key in failing:
                    continue
                failing.add(key)
                url = alerts.run_url(record.run_id)
                if stale:
                    # Stale data fails no run and blocks nothing: every sink hears of it.
                    alert = stale_data_alert(evaluation, record.run_id, url)
                    alerts.send(alert)
                else:
                    alert = check_failure_alert(evaluation, record.run_id, url)
                for problem in alerts.notify(alert):
                    context.log.warning(f"Alert for {key} not sent: {problem}")
                sent += 1
        cursor = {"seen": seen, "failing": sorted(failing)}
        return dg.SensorResult(
            cursor=json.dumps(cursor),
            skip_reason=None if sent else dg.SkipReason("no new failed blocking checks"),
        )

    return blocking_check_alert_sensor
