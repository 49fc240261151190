"""Ingestion wiring: sample data for an empty landing zone, and one ``raw_<dataset>`` per spec."""

import os
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.common.metadata import column_schema, markdown_preview, table_metadata
from assets.ingestion.contracts import BUILTIN_CATALOG_DIR, DatasetSpec
from assets.ingestion.generator import GeneratorConfig, generate_dataset
from assets.ingestion.generator.defects import DEFECT_KINDS
from assets.ingestion.generator.writers import FORMATS
from assets.ingestion.landing import IngestReport, ingest_landing_folder
from resources import LakeResource, LandingZoneResource, WarehouseResource

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
    context: dg.AssetExecutionContext, config: SampleDataConfig, landing: LandingZoneResource
) -> dg.MaterializeResult:
    names = builtin_dataset_names()
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
    landing.path.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=landing.path, prefix=".generating-") as tmp:
        manifest = generate_dataset(Path(tmp), cfg, progress=_progress_logger(context))
        # New files only get new names, so existing landing files are never overwritten.
        for entity, files in manifest["files"].items():
            target_dir = landing.path / entity
            target_dir.mkdir(parents=True, exist_ok=True)
            for rel in files:
                os.replace(Path(tmp) / rel, target_dir / f"{batch}-{Path(rel).name}")
        manifests = landing.path / "_manifests"
        manifests.mkdir(exist_ok=True)
        shutil.move(str(Path(tmp) / "manifest.json"), manifests / f"{batch}.json")
    rows = sum(manifest["row_counts"].values())
    defects = sum(sum(v.values()) for v in manifest["defect_counts"].values())
    context.log.info(f"Generated {rows:,} rows ({defects:,} planted defects) into {landing.path}.")
    return dg.MaterializeResult(
        metadata={
            "generated": True,
            "rows_out": dg.MetadataValue.int(rows),
            "planted_defects": dg.MetadataValue.int(defects),
            "manifest": dg.MetadataValue.path(str(manifests / f"{batch}.json")),
            "row_counts": dg.MetadataValue.json(manifest["row_counts"]),
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


def build_raw_asset(spec: DatasetSpec, *, with_sample_data: bool) -> dg.AssetsDefinition:
    """``raw_<name>``: every new landing file of the dataset, typed to its contract, in the lake."""
    asset_name = f"raw_{spec.name}"
    check_name = f"{spec.name}_landing_files_readable"
    descriptions = {c.name: c.description for c in spec.columns}

    @dg.asset(
        name=asset_name,
        group_name=GROUP,
        deps=[SAMPLE_ASSET] if with_sample_data else [],
        description=f"{spec.description or spec.name} Raw rows from the landing zone, typed to the "
        "contract; uncastable values keep their text in _ingest_errors.",
        owners=[spec.owner],
        kinds={"polars", "duckdb", "parquet"},
        metadata={
            "dataset": spec.name,
            "dagster/column_schema": column_schema(spec.polars_schema, descriptions),
        },
        check_specs=[
            dg.AssetCheckSpec(
                check_name,
                asset=asset_name,
                description=f"Every new file under landing/{spec.landing_folder}/ could be read; "
                "bad files are quarantined with their reason (warns, does not block).",
            )
        ],
    )
    def _raw(
        context: dg.AssetExecutionContext,
        landing: LandingZoneResource,
        lake: LakeResource,
        warehouse: WarehouseResource,
    ) -> dg.MaterializeResult:
        report = ingest_landing_folder(
            spec,
            landing_root=landing.path,
            table_dir=lake.table_dir(GROUP, asset_name),
            ledger_path=lake.state_path(GROUP, f"{spec.name}_ledger.parquet"),
            quarantine_dir=landing.quarantine_dir(spec.name),
            max_file_bytes=landing.max_file_bytes,
            log=context.log.warning,
        )
        for o in report.by_status("ingested"):
            context.log.info(f"Ingested {o.path}: {o.rows:,} rows ({o.format}, {o.encoding}).")
        warehouse.register_view(GROUP, asset_name, lake.glob(GROUP, asset_name))
        meta = table_metadata(
            lake.scan(GROUP, asset_name),
            rows_in=report.rows,
            seconds=report.seconds,
            descriptions=descriptions,
            location=str(lake.table_dir(GROUP, asset_name)),
        )
        meta.update(_ingest_metadata(report))
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


def build_ingestion_assets(catalog: dict[str, DatasetSpec]) -> list[dg.AssetsDefinition]:
    builtin = set(builtin_dataset_names())
    raw = [
        build_raw_asset(spec, with_sample_data=name in builtin)
        for name, spec in sorted(catalog.items())
        if spec.source.kind == "landing"
    ]
    return [sample_landing_data, *raw]
