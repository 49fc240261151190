"""Ingestion wiring: sample data for an empty landing zone, and one ``raw_<dataset>`` per spec."""

from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.metadata import column_schema, markdown_preview, table_metadata
from assets.core.http import ApiError
from assets.core.privacy import mask_json, mask_text, pii_masks
from assets.core.reader_base import EnvironmentFault
from assets.core.s3 import is_s3_uri
from assets.core.scratch import scratch_folder
from assets.core.spec import DatasetSpec
from assets.core.storage import LakePath
from assets.ingestion.candidates import Candidate, missing_folder_hint
from assets.ingestion.checks import (
    fresh_check_result,
    fresh_check_spec,
    raw_freshness,
    readers_in_run,
    refreshes,
)
from assets.ingestion.config import IngestConfig, SampleDataConfig
from assets.ingestion.landing import IngestReport, ingest_candidates, outcomes_frame
from assets.ingestion.partitions import (
    Window,
    partition_keys_between,
    rebuild_raw_days,
    window_of,
)
from assets.ingestion.sample import (
    builtin_dataset_names,
    generator_config,
    land_sample_batch,
    occupied_datasets,
    skip_reason,
)
from assets.ingestion.sources import (
    Refused,
    SourcePullError,
    permanent_failure,
    source_candidates,
)
from assets.ingestion.streams.defs import build_stream_raw_asset
from resources import LakeResource, LandingZoneResource, WarehouseResource
from resources.s3 import S3StorageResource

GROUP = "ingestion"
SAMPLE_ASSET = "sample_landing_data"


@dg.asset(
    name=SAMPLE_ASSET,
    group_name=GROUP,
    kinds={"polars", "python"},
    owners=["team:data-platform"],
    description="Fills the landing zone with seeded synthetic data (with labelled defects) "
    "when it has none, so the pipeline runs out of the box.",
)
def sample_landing_data(
    context: dg.AssetExecutionContext,
    config: SampleDataConfig,
    landing: LandingZoneResource,
    s3: S3StorageResource,
) -> dg.MaterializeResult:
    occupied = occupied_datasets(builtin_dataset_names(), landing.root, s3)
    reason = skip_reason(config.mode, occupied)
    if reason is not None:
        context.log.info(f"No sample data generated: {reason}.")
        return dg.MaterializeResult(metadata={"generated": False, "reason": reason, "rows_out": 0})
    cfg = generator_config(
        customers=config.customers,
        orders=config.orders,
        seed=config.seed,
        defect_rate=config.defect_rate,
        duplicate_key_rate=config.duplicate_key_rate,
        file_format=config.file_format,
    )
    batch = land_sample_batch(
        cfg,
        f"sample-{context.run.run_id[:8]}",
        landing.root,
        s3,
        progress=_progress_logger(context),
    )
    context.log.info(
        f"Generated {batch.rows:,} rows ({batch.defects:,} planted defects) into {landing.root}."
    )
    return dg.MaterializeResult(
        metadata={
            "generated": True,
            "rows_out": dg.MetadataValue.int(batch.rows),
            "planted_defects": dg.MetadataValue.int(batch.defects),
            "manifest": dg.MetadataValue.path(batch.manifest_at),
            "row_counts": dg.MetadataValue.json(batch.row_counts),
        }
    )


def _progress_logger(context: dg.AssetExecutionContext):
    state = {"next": 0.0}

    def log(done: int, total: int) -> None:
        share = done / max(total, 1)
        if share >= state["next"]:
            context.log.info(f"Generating: {done:,} of {total:,} rows ({share:.0%}).")
            state["next"] = share + 0.25

    return log


def _ingest_metadata(report: IngestReport) -> dict:
    ingested = report.by_status("ingested")
    bad = report.by_status("quarantined") + report.by_status("refused")
    mb = report.bytes / 1e6
    meta = {
        "files_read": dg.MetadataValue.int(len(ingested)),
        "files_quarantined": dg.MetadataValue.int(len(bad)),
        "files_duplicate": dg.MetadataValue.int(len(report.by_status("duplicate"))),
        "files_waiting": dg.MetadataValue.int(report.waiting + len(report.deferred)),
        "bytes_read": dg.MetadataValue.int(report.bytes),
        "new_rows": dg.MetadataValue.int(report.rows),
        "flagged_rows": dg.MetadataValue.int(report.flagged_rows),
        "throughput_mb_s": dg.MetadataValue.float(
            round(mb / report.seconds, 2) if report.seconds else 0.0
        ),
        "formats": ", ".join(sorted({o.format for o in ingested})) or "none",
        "encodings": ", ".join(sorted({o.encoding for o in ingested})) or "none",
    }
    if report.outcomes:
        meta["files"] = dg.MetadataValue.md(markdown_preview(outcomes_frame(report)))
    return meta


# A full disk or temp folder, no memory, no permission: the step is tried again after a pause
# (the pass saved what it finished), then fails and says why.
ENVIRONMENT_RETRIES = 2
ENVIRONMENT_RETRY_WAIT_S = 30

# Network sources retry a failed step with backoff and jitter; the instance's run retries are
# kept for crashed runs only (retry_on_asset_or_op_failure: false), so the two never multiply.
NETWORK_RETRY = dg.RetryPolicy(
    max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
)


def _source_resource_keys(spec: DatasetSpec) -> set[str]:
    return {"landing", "lake", "warehouse"} | {
        "landing": {"s3"},
        "postgres": {"postgres"},
        "api": {"api"},
    }[spec.source.kind]


def _candidates(
    spec: DatasetSpec,
    context: dg.AssetExecutionContext,
    files_dir: LakePath,
    landing: LandingZoneResource,
    workdir: Path,
) -> tuple[list[Candidate], Refused]:
    """What this run should look at; a pull that a retry would not fix fails the step for good."""
    kind = spec.source.kind
    resources = context.resources
    try:
        return source_candidates(
            spec,
            files_dir=files_dir,
            landing_root=landing.root,
            quarantine_dir=landing.quarantine_dir(spec.name),
            workdir=workdir,
            s3=resources.s3 if kind == "landing" else None,
            pg=resources.postgres if kind == "postgres" else None,
            api=resources.api if kind == "api" else None,
            log=lambda message: context.log.info(mask_text(message)),
        )
    except (SourcePullError, ApiError) as exc:
        if not permanent_failure(exc):
            raise
        message = mask_text(f"{spec.name}: {exc}")
        raise dg.Failure(description=message, allow_retries=False) from None


def _ingest_pass(
    spec: DatasetSpec,
    context: dg.AssetExecutionContext,
    config: IngestConfig,
    files_dir: LakePath,
) -> IngestReport:
    """One ingestion pass of a raw asset, after clearing scratch that killed runs left behind.

    A fault of the machine (EnvironmentFault) blamed no file, so the step is retried after a
    pause and the retry reads the same inputs again.
    """
    landing: LandingZoneResource = context.resources.landing
    lake: LakeResource = context.resources.lake
    for stale in lake.clean_scratch():
        context.log.info(f"Removed scratch left by a killed process: {stale}.")
    with scratch_folder(f"pull-{spec.name}-") as tmp:
        candidates, refused = _candidates(spec, context, files_dir, landing, tmp)
        if spec.source.kind == "landing" and not is_s3_uri(landing.root):
            hint = missing_folder_hint(landing.path, spec.landing_folder)
            if hint is not None:
                context.log.warning(hint)
        try:
            report = ingest_candidates(
                spec,
                candidates,
                refused=refused,
                table_dir=files_dir,
                ledger_path=lake.state_path(GROUP, f"{spec.name}_ledger.parquet"),
                quarantine_dir=landing.quarantine_dir(spec.name),
                max_file_bytes=landing.max_file_bytes,
                settle_seconds=landing.settle_seconds,
                log=lambda message: context.log.warning(mask_text(message)),
                max_new=config.max_files or None,
            )
        except EnvironmentFault as exc:
            context.log.error(f"raw_{spec.name} stopped by a fault of the machine: {exc}")
            raise dg.RetryRequested(
                max_retries=ENVIRONMENT_RETRIES, seconds_to_wait=ENVIRONMENT_RETRY_WAIT_S
            ) from exc
    if report.deferred:
        context.log.info(f"{len(report.deferred):,} inputs wait for the next run (not settled).")
    if report.waiting:
        context.log.info(f"{report.waiting:,} new inputs wait for the next run (max_files).")
    for o in report.by_status("ingested"):
        context.log.info(f"Ingested {o.path}: {o.rows:,} rows ({o.format}, {o.encoding}).")
    return report


def build_raw_asset(
    spec: DatasetSpec,
    *,
    with_sample_data: bool,
    partitions_def: dg.DailyPartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    """``raw_<name>``: every new file, object or pulled batch of the dataset, typed, in the lake.

    A dataset with ``partitioning`` is daily partitioned: its files are ingested once each (as
    always), and a run for a range of days rewrites exactly those days from every file with
    rows on them.
    """
    asset_name = f"raw_{spec.name}"
    partitioned = spec.partitioning is not None and partitions_def is not None
    kind = spec.source.kind
    check_name = (
        f"{spec.name}_landing_files_readable"
        if kind == "landing"
        else f"{spec.name}_source_readable"
    )
    descriptions = {c.name: c.description for c in spec.columns}
    where = {
        "landing": f"the landing zone (landing/{spec.landing_folder}/, local or S3)",
        "postgres": f"PostgreSQL ({spec.source.table or 'a query'})",
        "api": f"the REST API ({spec.source.endpoint})",
    }[kind]
    kinds = {"polars", "duckdb", "parquet"} | {
        "landing": set(),
        "postgres": {"postgres"},
        "api": {"api"},
    }[kind]

    @dg.asset(
        name=asset_name,
        group_name=GROUP,
        deps=[SAMPLE_ASSET] if with_sample_data else [],
        description=f"{spec.description or spec.name} Raw rows from {where}, typed to the "
        "contract; uncastable values keep their text in _ingest_errors.",
        owners=[spec.owner],
        kinds=kinds,
        metadata={
            "dataset": spec.name,
            "source": kind,
            "dagster/column_schema": column_schema(spec.polars_schema, descriptions),
        },
        required_resource_keys=_source_resource_keys(spec),
        partitions_def=partitions_def if partitioned else None,
        retry_policy=None if kind == "landing" else NETWORK_RETRY,
        tags={"pipeline/source": kind} if kind != "landing" else None,
        check_specs=[
            dg.AssetCheckSpec(
                check_name,
                asset=asset_name,
                description=f"Every new input from {where} could be read; bad inputs are "
                "quarantined with their reason (warns, does not block).",
            ),
            *([fresh_check_spec(spec, asset_name)] if spec.freshness.column else []),
        ],
        output_required=False,
    )
    def _raw(context: dg.AssetExecutionContext, config: IngestConfig):
        lake: LakeResource = context.resources.lake
        warehouse: WarehouseResource = context.resources.warehouse
        table_dir = lake.table_dir(GROUP, asset_name)
        # A partitioned dataset keeps one typed part per ingested file aside, and its table holds
        # the days; an unpartitioned one's table is those parts.
        files_dir = lake.state_path(GROUP, "files", spec.name) if partitioned else table_dir
        report = _ingest_pass(spec, context, config, files_dir)
        read_by = readers_in_run(context, spec.name)
        if refreshes(report, context.run.tags, read_by):
            extra: dict = {}
            if partitioned:
                table, extra = _raw_days(context, spec, lake, files_dir)
            else:
                table = lake.scan(GROUP, asset_name)
            lake.register(warehouse, GROUP, asset_name)
            meta = table_metadata(
                table,
                rows_in=report.rows,
                seconds=report.seconds,
                descriptions=descriptions,
                location=str(table_dir),
                pii=pii_masks(spec),
            )
            meta.update(_ingest_metadata(report) | extra)
            if not report.by_status("ingested"):
                meta["refreshed_for"] = ", ".join(read_by) or "a run launched by hand"
            if kind == "api":
                meta["api_requests"] = dg.MetadataValue.int(context.resources.api.attempts)
                meta["api_retries"] = dg.MetadataValue.int(context.resources.api.retries)
            yield dg.MaterializeResult(metadata=meta)
        else:
            # No materialization: the table did not change, so Dagster's freshness policy sees
            # the data's age, and the steps after this one in the run are skipped.
            context.log.info(f"raw_{spec.name}: nothing new arrived; the table is unchanged.")
        bad = report.by_status("quarantined") + report.by_status("refused")
        yield dg.AssetCheckResult(
            check_name=check_name,
            passed=not bad,
            severity=dg.AssetCheckSeverity.WARN,
            # What the pass saw, also when nothing new arrived and the table is not refreshed.
            metadata=_ingest_metadata(report)
            | {
                "bad_files": dg.MetadataValue.int(len(bad)),
                "reasons": dg.MetadataValue.json(mask_json({o.path: o.reason for o in bad[:50]})),
            },
        )
        if spec.freshness.column:
            written = lake.exists(GROUP, asset_name)
            verdict = raw_freshness(
                spec, lake.scan(GROUP, asset_name) if written else None, config.now()
            )
            context.log.info(f"{spec.name} freshness: {verdict.summary}.")
            yield fresh_check_result(spec, verdict)

    return _raw


def _raw_days(
    context: dg.AssetExecutionContext, spec: DatasetSpec, lake: LakeResource, files_dir: LakePath
) -> tuple[pl.LazyFrame, dict]:
    """Rewrite the run's days of a partitioned raw table; the table of those days and metadata."""
    key_range = context.partition_key_range
    days = partition_keys_between(key_range.start, key_range.end)
    table, written = rebuild_raw_days(
        spec, lake, GROUP, files_dir=files_dir, days=days, window=partition_window(context)
    )
    context.log.info(
        f"{spec.name}: wrote {sum(written.values()):,} rows on {len(written)} of {len(days)} "
        f"days ({key_range.start} to {key_range.end})."
    )
    return table, {
        "partition_range": f"{key_range.start}...{key_range.end}",
        "days_with_rows": dg.MetadataValue.int(len(written)),
    }


def partition_window(context: dg.AssetExecutionContext) -> Window:
    """The days the asset's partitions span, from the definition's first day through today."""
    partitions_def = context.assets_def.partitions_def
    assert isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    return window_of(partitions_def.start, partitions_def.get_last_partition_key())


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """Every day from ``start`` through today (UTC), today included, for event-dated datasets."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, timezone="UTC")


def build_ingestion_assets(
    catalog: dict[str, DatasetSpec], partitions_def: dg.DailyPartitionsDefinition | None = None
) -> list[dg.AssetsDefinition]:
    builtin = set(builtin_dataset_names())
    raw = [
        build_stream_raw_asset(spec)
        if spec.source.kind == "stream"
        else build_raw_asset(spec, with_sample_data=name in builtin, partitions_def=partitions_def)
        for name, spec in sorted(catalog.items())
    ]
    return [sample_landing_data, *raw]
