"""When a raw table is refreshed, and its data-freshness check as Dagster sees it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import dagster as dg
import polars as pl

from assets.core.spec import DatasetSpec
from assets.ingestion.freshness import DataFreshness, data_freshness
from assets.ingestion.landing import IngestReport

# Dagster tags the runs that a schedule or sensor requests with its name.
AUTOMATIC_TAGS = ("dagster/schedule_name", "dagster/sensor_name")


def fresh_check_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_fresh"


def fresh_check_spec(spec: DatasetSpec, asset: str) -> dg.AssetCheckSpec:
    f = spec.freshness
    warn = f"warns past {f.warn_after_hours:g} h, " if f.warn_after_hours is not None else ""
    return dg.AssetCheckSpec(
        fresh_check_name(spec),
        asset=asset,
        description=f"The newest row ({f.column}) is recent: {warn}fails past "
        f"{f.max_lag_hours:g} h (alerts once until it passes again). Judged on every ingestion "
        "run, whether or not new data arrived.",
    )


def fresh_check_result(spec: DatasetSpec, verdict: DataFreshness) -> dg.AssetCheckResult:
    """Passed while fresh; a WARN failure when late, an ERROR failure when stale (a result has
    one severity, so the verdict picks it)."""
    newest = verdict.newest
    return dg.AssetCheckResult(
        check_name=fresh_check_name(spec),
        passed=verdict.state == "fresh",
        severity=dg.AssetCheckSeverity.ERROR
        if verdict.state == "stale"
        else dg.AssetCheckSeverity.WARN,
        description=verdict.summary,
        metadata={
            "newest_row": newest.isoformat(timespec="seconds") if newest else "none",
            "newest_row_timestamp": dg.MetadataValue.timestamp(newest)
            if newest
            else dg.MetadataValue.null(),
            "lag_hours": dg.MetadataValue.float(verdict.lag_hours)
            if verdict.lag_hours is not None
            else dg.MetadataValue.null(),
            "warn_after_hours": dg.MetadataValue.float(verdict.warn_after_hours)
            if verdict.warn_after_hours is not None
            else dg.MetadataValue.null(),
            "max_lag_hours": dg.MetadataValue.float(verdict.max_lag_hours),
            "state": verdict.state,
        },
    )


def readers_in_run(context: dg.AssetExecutionContext, dataset: str) -> list[str]:
    """The other datasets' tables of this run that read this raw table (as a parent).

    Dagster skips a step when a step it depends on yields nothing, so their validation would
    be skipped if this table did not materialize.
    """
    layer = context.job_def.asset_layer
    own = {dg.AssetKey(f"validated_{dataset}"), dg.AssetKey(f"quarantined_{dataset}")}
    children = layer.asset_graph.get(context.asset_key).child_keys - own
    return sorted(c.to_user_string() for c in children & layer.selected_asset_keys)


def refreshes(
    report: IngestReport,
    run_tags: Mapping[str, str],
    *,
    partitioned: bool,
    read_by: Sequence[str] = (),
) -> bool:
    """Whether this run refreshes the raw table: a new file, object or pulled batch was
    ingested; someone asked for days of a partitioned table (a backfill or a run for a range),
    which are rewritten from the files already read; or another dataset validated in this run
    reads it (``read_by``). A scheduled or sensor run that found nothing new for a table nobody
    else in the run reads leaves it, and its last materialization, as they were."""
    if report.by_status("ingested") or read_by:
        return True
    return partitioned and not any(tag in run_tags for tag in AUTOMATIC_TAGS)


def raw_freshness(spec: DatasetSpec, table: pl.LazyFrame | None, now: datetime) -> DataFreshness:
    """The verdict on the newest row of the raw table (every day of a partitioned one); a table
    not yet written has no row, so it is stale."""
    column = spec.freshness.column
    assert column is not None
    if table is None:
        table = pl.LazyFrame(schema={column: spec.polars_schema[column]})
    return data_freshness(table, spec.freshness, now)
