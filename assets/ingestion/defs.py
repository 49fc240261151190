"""Ingestion wiring: sample data for an empty landing zone, and one ``raw_<dataset>`` per spec."""

import json
import os
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.common.metadata import column_schema, markdown_preview, table_metadata
from assets.core.s3 import is_s3_uri, join_key, split_s3_uri
from assets.core.spec import BUILTIN_CATALOG_DIR, DatasetSpec
from assets.core.storage import LakePath, scan_parts
from assets.core.writers import FORMATS
from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.core import DEFECTS_FILE
from assets.generator.defects import DEFECT_KINDS
from assets.ingestion.conform import empty_table
from assets.ingestion.landing import (
    Candidate,
    IngestReport,
    ingest_candidates,
    local_candidates,
)
from assets.ingestion.partitions import (
    PARTITION,
    Window,
    day_parts,
    partition_keys_between,
    rebuild_days,
)
from assets.ingestion.sources import (
    SourcePullError,
    lake_watermark,
    pull_api,
    pull_postgres,
    s3_candidates,
    source_label,
)
from resources import LakeResource, LandingZoneResource, WarehouseResource
from resources.rest_api import ApiError, CircuitOpenError
from resources.s3 import S3StorageResource

GROUP = "ingestion"
SAMPLE_ASSET = "sample_landing_data"


def builtin_dataset_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_CATALOG_DIR.glob("*.yaml"))


class SampleDataConfig(dg.Config):
    """How the generator fills the landing zone with sample data."""

    mode: Literal["if_empty", "always", "never"] = Field(
        default="if_empty",
        description="if_empty: generate only when no built-in dataset has landing files; "
        "always: add a fresh batch every run; never: leave the landing zone alone.",
    )
    customers: int = Field(
        default=2_000, ge=10, le=50_000_000, description="Customers to generate."
    )
    orders: int = Field(
        default=20_000, ge=1, le=500_000_000, description="Order lines to generate."
    )
    seed: int = Field(default=7, description="Random seed; the same seed gives the same bytes.")
    defect_rate: float = Field(
        default=0.002,
        ge=0.0,
        le=0.2,
        description="Rate of every planted defect kind except duplicate keys (0 = clean). The "
        "default keeps every quality gate passing while the quarantine shows each kind.",
    )
    duplicate_key_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=0.2,
        description="Rate of rows that reuse an existing key with different content; any of them "
        "fails the keys_unique gate under the block policy, by design.",
    )
    file_format: Literal["csv", "csv.gz", "json", "ndjson", "parquet", "xml"] = Field(
        default="csv", description=f"Landing file format, one of {', '.join(FORMATS)}."
    )


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
    names = builtin_dataset_names()
    on_s3 = is_s3_uri(landing.root)
    bucket, prefix = split_s3_uri(landing.root) if on_s3 else ("", "")
    if on_s3:
        occupied = [n for n in names if s3_candidates(s3, bucket, prefix, n)]
    else:
        occupied = [n for n in names if landing.has_files(n)]
    if config.mode == "never" or (config.mode == "if_empty" and occupied):
        reason = (
            "mode is never"
            if config.mode == "never"
            else f"landing files exist for {', '.join(occupied)}"
        )
        context.log.info(f"No sample data generated: {reason}.")
        return dg.MaterializeResult(metadata={"generated": False, "reason": reason, "rows_out": 0})
    cfg = GeneratorConfig(
        customers=config.customers,
        orders=config.orders,
        seed=config.seed,
        defect_rates={
            k: (config.duplicate_key_rate if k == "duplicate_key" else config.defect_rate)
            for k in DEFECT_KINDS
        },
        fmt=config.file_format,
    )
    batch = f"sample-{context.run.run_id[:8]}"
    staging_parent = None if on_s3 else landing.path
    if staging_parent is not None:
        staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".generating-") as tmp:
        manifest = generate_dataset(Path(tmp), cfg, progress=_progress_logger(context))
        # New files only get new names, so existing landing files are never overwritten.
        for entity, files in manifest["files"].items():
            for rel in files:
                name = f"{batch}-{Path(rel).name}"
                if on_s3:
                    s3.upload(Path(tmp) / rel, bucket, join_key(prefix, entity, name))
                else:
                    target_dir = landing.path / entity
                    target_dir.mkdir(parents=True, exist_ok=True)
                    os.replace(Path(tmp) / rel, target_dir / name)
        # The manifest and its defect labels sit side by side under _manifests/, which no
        # dataset reads; the manifest names the labels file by its new name.
        labels = f"{batch}-{manifest['defects_file']}"
        manifest["defects_file"] = labels
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if on_s3:
            manifest_at = f"s3://{bucket}/{join_key(prefix, '_manifests', batch + '.json')}"
            s3.upload(Path(tmp) / DEFECTS_FILE, bucket, join_key(prefix, "_manifests", labels))
            s3.upload(
                Path(tmp) / "manifest.json", bucket, join_key(prefix, "_manifests", batch + ".json")
            )
        else:
            manifests = landing.path / "_manifests"
            manifests.mkdir(exist_ok=True)
            shutil.move(str(Path(tmp) / DEFECTS_FILE), manifests / labels)
            shutil.move(str(Path(tmp) / "manifest.json"), manifests / f"{batch}.json")
            manifest_at = str(manifests / f"{batch}.json")
    rows = sum(manifest["row_counts"].values())
    defects = sum(sum(v.values()) for v in manifest["defect_counts"].values())
    context.log.info(f"Generated {rows:,} rows ({defects:,} planted defects) into {landing.root}.")
    return dg.MaterializeResult(
        metadata={
            "generated": True,
            "rows_out": dg.MetadataValue.int(rows),
            "planted_defects": dg.MetadataValue.int(defects),
            "manifest": dg.MetadataValue.path(manifest_at),
            "row_counts": dg.MetadataValue.json(manifest["row_counts"]),
        }
    )


class IngestConfig(dg.Config):
    """How much of a source one run of ``raw_<dataset>`` takes."""

    max_files: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="Read at most this many new files or objects in this run (0 = all); the rest "
        "stay for the next run. Bounds the first run over a large landing-zone backlog.",
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
        "files_waiting": dg.MetadataValue.int(report.waiting),
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
        files = pl.DataFrame(
            [
                {
                    "file": o.path,
                    "status": o.status,
                    "format": o.format,
                    "encoding": o.encoding,
                    "rows": o.rows,
                    "reason": o.reason,
                }
                for o in report.outcomes[:50]
            ]
        )
        meta["files"] = dg.MetadataValue.md(markdown_preview(files))
    return meta


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


def _pull_candidates(
    spec: DatasetSpec,
    context: dg.AssetExecutionContext,
    table_dir: LakePath,
    landing: LandingZoneResource,
    workdir: Path,
) -> tuple[list[Candidate], list[tuple[str, Path, str]]]:
    """What this run should look at: landing files, S3 objects, or one fresh pull."""
    kind = spec.source.kind
    if kind == "landing":
        if is_s3_uri(landing.root):
            bucket, prefix = split_s3_uri(landing.root)
            s3: S3StorageResource = context.resources.s3
            return s3_candidates(s3, bucket, prefix, spec.landing_folder), []
        return local_candidates(landing.path, spec.landing_folder)
    watermark = lake_watermark(table_dir, spec)
    if watermark is not None:
        context.log.info(
            f"Pulling {spec.name} rows with {spec.source.watermark_column} > {watermark}."
        )
    try:
        if kind == "postgres":
            pulled = pull_postgres(spec, context.resources.postgres, workdir, watermark)
        else:
            pulled = pull_api(
                spec,
                context.resources.api,
                workdir,
                watermark,
                quarantine_dir=landing.quarantine_dir(spec.name),
                log=context.log.info,
            )
    except (SourcePullError, ApiError) as exc:
        if isinstance(exc, ApiError) and exc.retryable:
            raise
        permanent = isinstance(exc, SourcePullError | CircuitOpenError) or (
            exc.status is not None and exc.status < 500 and exc.status != 429
        )
        if not permanent:
            raise
        raise dg.Failure(description=f"{spec.name}: {exc}", allow_retries=False) from None
    if pulled is None:
        context.log.info(f"No new rows for {spec.name} from {source_label(spec)}.")
        return [], []
    return [pulled], []


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
            )
        ],
    )
    def _raw(context: dg.AssetExecutionContext, config: IngestConfig) -> dg.MaterializeResult:
        landing: LandingZoneResource = context.resources.landing
        lake: LakeResource = context.resources.lake
        warehouse: WarehouseResource = context.resources.warehouse
        table_dir = lake.table_dir(GROUP, asset_name)
        # A partitioned dataset keeps one typed part per ingested file aside, and its table holds
        # the days; an unpartitioned one's table is those parts.
        files_dir = lake.state_path(GROUP, "files", spec.name) if partitioned else table_dir
        with tempfile.TemporaryDirectory(prefix=f"pull-{spec.name}-") as tmp:
            candidates, refused = _pull_candidates(spec, context, files_dir, landing, Path(tmp))
            report = ingest_candidates(
                spec,
                candidates,
                refused=refused,
                table_dir=files_dir,
                ledger_path=lake.state_path(GROUP, f"{spec.name}_ledger.parquet"),
                quarantine_dir=landing.quarantine_dir(spec.name),
                max_file_bytes=landing.max_file_bytes,
                log=context.log.warning,
                max_new=config.max_files or None,
            )
        if report.waiting:
            context.log.info(f"{report.waiting:,} new inputs wait for the next run (max_files).")
        for o in report.by_status("ingested"):
            context.log.info(f"Ingested {o.path}: {o.rows:,} rows ({o.format}, {o.encoding}).")
        table = lake.scan(GROUP, asset_name) if not partitioned else None
        extra: dict = {}
        if partitioned:
            table, extra = _write_raw_days(context, spec, lake, files_dir, table_dir)
        lake.register(warehouse, GROUP, asset_name)
        assert table is not None
        meta = table_metadata(
            table,
            rows_in=report.rows,
            seconds=report.seconds,
            descriptions=descriptions,
            location=str(table_dir),
        )
        meta.update(_ingest_metadata(report))
        meta.update(extra)
        if kind == "api":
            meta["api_requests"] = dg.MetadataValue.int(context.resources.api.attempts)
            meta["api_retries"] = dg.MetadataValue.int(context.resources.api.retries)
        bad = report.by_status("quarantined") + report.by_status("refused")
        check = dg.AssetCheckResult(
            check_name=check_name,
            passed=not bad,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "bad_files": dg.MetadataValue.int(len(bad)),
                "reasons": dg.MetadataValue.json({o.path: o.reason for o in bad[:50]}),
            },
        )
        return dg.MaterializeResult(metadata=meta, check_results=[check])

    return _raw


def _write_raw_days(
    context: dg.AssetExecutionContext,
    spec: DatasetSpec,
    lake: LakeResource,
    files_dir: LakePath,
    table_dir: LakePath,
) -> tuple[pl.LazyFrame, dict]:
    """Rewrite the run's days of a partitioned raw table; the table of those days and metadata."""
    key_range = context.partition_key_range
    days = partition_keys_between(key_range.start, key_range.end)
    window = partition_window(context)
    empty = empty_table(spec)
    schema_part = lake.ensure_schema_part(
        GROUP, f"raw_{spec.name}", empty.with_columns(pl.lit(None, dtype=pl.Date).alias(PARTITION))
    )
    written = rebuild_days(
        spec,
        files_dir=files_dir,
        table_dir=table_dir,
        state_path=lake.state_path(GROUP, f"{spec.name}_file_days.parquet"),
        window=window,
        days=days,
        empty=empty,
    )
    context.log.info(
        f"{spec.name}: wrote {sum(written.values()):,} rows on {len(written)} of {len(days)} "
        f"days ({key_range.start} to {key_range.end})."
    )
    table = scan_parts(day_parts(table_dir, days) or [schema_part])
    return table, {
        "partition_range": f"{key_range.start}...{key_range.end}",
        "days_with_rows": dg.MetadataValue.int(len(written)),
    }


def partition_window(context: dg.AssetExecutionContext) -> Window:
    """The days the asset's partitions span, from the definition's first day through today."""
    return window_of(context.assets_def.partitions_def)


def window_of(partitions_def: dg.PartitionsDefinition | None) -> Window:
    """The days of a daily partitions definition, from its first day through today (UTC)."""
    assert isinstance(partitions_def, dg.TimeWindowPartitionsDefinition)
    last = partitions_def.get_last_partition_key()
    assert last is not None
    return Window(partitions_def.start.date(), date.fromisoformat(last))


def daily_partitions(start: date) -> dg.DailyPartitionsDefinition:
    """Every day from ``start`` through today (UTC), today included, for event-dated datasets."""
    return dg.DailyPartitionsDefinition(start_date=start.isoformat(), end_offset=1, timezone="UTC")


def build_ingestion_assets(
    catalog: dict[str, DatasetSpec], partitions_def: dg.DailyPartitionsDefinition | None = None
) -> list[dg.AssetsDefinition]:
    builtin = set(builtin_dataset_names())
    raw = [
        build_raw_asset(spec, with_sample_data=name in builtin, partitions_def=partitions_def)
        for name, spec in sorted(catalog.items())
    ]
    return [sample_landing_data, *raw]
