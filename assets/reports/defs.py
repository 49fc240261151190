"""Reports wiring: insights, recommendations, and the quality, insights and pipeline reports."""

import json
import tempfile
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from assets.analytics.forecast import read_backtest
from assets.common.artifacts import artifact_record
from assets.common.inputs import Reads, Table
from assets.common.metadata import markdown_preview, masked_metadata, run_metadata
from assets.common.postgres import publish_frames
from assets.common.publish import publish_table
from assets.common.run_log import run_records
from assets.core.privacy import Mask, mask_json, pii_masks
from assets.core.spec import DatasetSpec
from assets.reports.dictionary import dictionary
from assets.reports.dictionary_page import FOLDER, dataset_page, index_page, page_name
from assets.reports.exports import EXPORT_FORMATS, EXPORT_TABLES, write_exports
from assets.reports.insight_sources import insights_from_lake
from assets.reports.insights_page import insights_report as insights_report_content
from assets.reports.pipeline_report import pipeline_report as pipeline_report_content
from assets.reports.pipeline_report import step_runs
from assets.reports.postgres_export import POSTGRES_TABLES
from assets.reports.quality import (
    current_history,
    quality_summary,
    quarantine_table,
    quarantined_files,
)
from assets.reports.quality import quality_report as quality_report_content
from assets.reports.recommendations import headlines, insights_frame, recommendations
from assets.reports.report import Report
from resources import LakeResource, LandingZoneResource, ReportsResource, WarehouseResource
from resources.postgres import PostgresResource

GROUP = "reports"
OWNER = ["team:analytics-engineering"]
FORECAST = "revenue_forecast"

ANALYTICS_TABLES = Reads(
    Table("analytics", "churn_scores"),
    Table("analytics", "customer_segments"),
    Table("analytics", FORECAST),
    Table("analytics", "price_elasticity"),
    Table("analytics", "anomalies"),
)


def validation_reads(datasets: Sequence[str]) -> Reads:
    """quality_history (written by every ``validated_<dataset>``) and each dataset's quarantine."""
    history = Table("validation", "quality_history", tuple(f"validated_{d}" for d in datasets))
    return Reads(history, *(Table("validation", quarantine_table(d)) for d in datasets))


def write_report(reports: ReportsResource, stem: str, report: Report) -> dict[str, Any]:
    """Write a report's page and JSON twin (its text masked as the page's is); the metadata
    that points at both."""
    html_path = reports.write(f"{stem}.html", report.page)
    payload = mask_json(report.payload)
    json_path = reports.write(f"{stem}.json", json.dumps(payload, indent=1, default=str))
    return {
        "path": dg.MetadataValue.path(str(html_path)),
        "json": dg.MetadataValue.path(str(json_path)),
    }


def build_insights_asset(datasets: Sequence[str]) -> dg.AssetsDefinition:
    """The insights and recommendations, reading the quarantine of each of ``datasets``."""
    reads = (
        Reads(
            Table("features", "churn_features"),
            Table("features", "churn_features_current"),
            Table("analytics", "churn_model"),
            Table("enrichment", "daily_revenue"),
            Table("enrichment", "enriched_orders"),
            Table("enrichment", "customer_profiles"),
        )
        + ANALYTICS_TABLES
        + validation_reads(datasets)
    )

    @dg.multi_asset(
        name="build_insights",
        specs=[
            dg.AssetSpec(
                "insights",
                group_name=GROUP,
                deps=reads.deps,
                description="Statements backed by numbers from the analytics and validation, each "
                "with evidence (figures, source asset, query), confidence and impact in EUR.",
                owners=OWNER,
                kinds={"polars", "duckdb"},
            ),
            dg.AssetSpec(
                "recommendations",
                group_name=GROUP,
                deps=["insights"],
                description="Ranked action items: priority = impact score x confidence weight, "
                "with the insight, target, expected effect and owner.",
                owners=OWNER,
                kinds={"polars", "duckdb"},
            ),
        ],
    )
    def build_insights(
        context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
    ):
        """Insights from the analytics and validation tables, and the recommendations they rank."""
        started = time.perf_counter()
        scan = partial(reads.scan, lake)
        quality = quality_summary(current_history(scan, datasets), scan)
        model_table = reads["churn_model"]
        model = artifact_record(lake.table_dir(model_table.group, model_table.name))
        forecast_table = reads[FORECAST]
        mape = read_backtest(lake.table_dir(forecast_table.group, forecast_table.name))
        items = insights_from_lake(scan, model, mape, quality)
        recs = recommendations(items)
        meta_i = publish_table(
            lake,
            warehouse,
            GROUP,
            "insights",
            insights_frame(items),
            rows_in=len(items),
            started=started,
        )
        meta_i["headlines"] = dg.MetadataValue.md(headlines(items))
        meta_r = publish_table(
            lake, warehouse, GROUP, "recommendations", recs, rows_in=len(items), started=started
        )
        meta_r["top_actions"] = dg.MetadataValue.md(
            markdown_preview(recs.select("rank", "priority", "action", "owner").head(5))
        )
        context.log.info(f"{len(items)} insights, {recs.height} recommendations.")
        yield dg.MaterializeResult(asset_key="insights", metadata=masked_metadata(meta_i))
        yield dg.MaterializeResult(asset_key="recommendations", metadata=masked_metadata(meta_r))

    return build_insights


def build_quality_report(
    thresholds: Mapping[str, float], pii: Mapping[str, Mapping[str, Mask]]
) -> dg.AssetsDefinition:
    """The quality report over the history and quarantine of each dataset ``thresholds`` names
    (with its quality-score gate); ``pii``: each dataset's personal columns, masked in it."""
    datasets = sorted(thresholds)
    reads = validation_reads(datasets)

    @dg.asset(
        name="quality_report",
        group_name=GROUP,
        # insights and data_dictionary are no reads: the pages come after the tables they
        # report on, and the dictionary's pages this one links to.
        deps=[*reads.deps, dg.AssetKey("insights"), dg.AssetKey("data_dictionary")],
        owners=OWNER,
        kinds={"html"},
    )
    def quality_report(
        lake: LakeResource, landing: LandingZoneResource, reports: ReportsResource
    ) -> dg.MaterializeResult:
        """Self-contained HTML page (and JSON twin) on data quality: rows in, valid and
        quarantined per dataset, rule failures with examples, score trends, drift, bad files."""
        scan = partial(reads.scan, lake)
        report = quality_report_content(
            current_history(scan, datasets),
            scan,
            lake,
            quarantined_files(Path(landing.quarantine_root)),
            thresholds,
            datetime.now(UTC),
            pii,
        )
        figures = report.figures
        return dg.MaterializeResult(
            metadata={
                **write_report(reports, "quality_report", report),
                "rows_quarantined": dg.MetadataValue.int(figures["rows_quarantined"]),
                "lowest_quality_score": dg.MetadataValue.float(figures["lowest_quality_score"]),
                "quarantined_files": dg.MetadataValue.int(figures["quarantined_files"]),
            }
        )

    return quality_report


def build_data_dictionary(catalog: Mapping[str, DatasetSpec]) -> dg.AssetsDefinition:
    """The dictionary's pages over each dataset of ``catalog``: its spec, its validated table
    and its latest validation run in quality_history."""
    datasets = sorted(catalog)
    history = Table("validation", "quality_history", tuple(f"validated_{d}" for d in datasets))
    reads = Reads(history, *(Table("validation", f"validated_{d}") for d in datasets))

    @dg.asset(
        name="data_dictionary",
        group_name=GROUP,
        deps=reads.deps,
        owners=OWNER,
        kinds={"html", "polars"},
    )
    def data_dictionary(lake: LakeResource, reports: ReportsResource) -> dg.MaterializeResult:
        """A page per dataset (reports/dictionary/<dataset>.html) and an index: each column's
        type, description and rules from the spec, its null share, distinct values, range and
        distribution in the latest validated rows (personal columns: counts only), keys,
        foreign keys with their coverage in the latest validation run, row rules, freshness."""
        generated = datetime.now(UTC)
        runs = current_history(partial(reads.scan, lake), datasets)
        books = [
            dictionary(reads.scan(lake, f"validated_{d}"), catalog[d], runs)
            for d in datasets
            if reads.exists(lake, f"validated_{d}")
        ]
        pages = {
            b.spec.name: str(reports.write(page_name(b.spec.name), dataset_page(b, generated)))
            for b in books
        }
        index = reports.write(f"{FOLDER}/index.html", index_page(books, generated))
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(index)),
                "pages": dg.MetadataValue.json(pages),
                "datasets": dg.MetadataValue.int(len(books)),
                "columns": dg.MetadataValue.int(sum(b.columns.height for b in books)),
                "personal_columns": dg.MetadataValue.int(
                    sum(int(b.columns["pii"].sum()) for b in books)
                ),
            }
        )

    return data_dictionary


INSIGHTS_REPORT_READS = ANALYTICS_TABLES + Reads(
    Table(GROUP, "insights"),
    Table(GROUP, "recommendations"),
    Table("enrichment", "daily_revenue"),
    Table("enrichment", "customer_profiles"),
)


@dg.asset(
    name="insights_report",
    group_name=GROUP,
    deps=INSIGHTS_REPORT_READS.deps,
    owners=OWNER,
    kinds={"html"},
)
def insights_report(lake: LakeResource, reports: ReportsResource) -> dg.MaterializeResult:
    """HTML page (and JSON twin) for business readers: executive summary, churn, revenue
    forecast, pricing, segments and anomalies, then the ranked recommendations."""
    report = insights_report_content(partial(INSIGHTS_REPORT_READS.scan, lake), datetime.now(UTC))
    figures = report.figures
    return dg.MaterializeResult(
        metadata=masked_metadata(
            {
                **write_report(reports, "insights_report", report),
                "headline_insights": dg.MetadataValue.md(figures["headline_insights"]),
                "insights": dg.MetadataValue.int(figures["insights"]),
                "recommendations": dg.MetadataValue.int(figures["recommendations"]),
            }
        )
    )


def build_pipeline_report(stage_of: dict[str, str]) -> dg.AssetsDefinition:
    """``stage_of`` maps each asset name to its group, taken from the Definitions."""

    @dg.asset(
        name="pipeline_report",
        group_name=GROUP,
        deps=["quality_report", "insights_report"],
        owners=OWNER,
        kinds={"html"},
    )
    def pipeline_report(
        context: dg.AssetExecutionContext, reports: ReportsResource
    ) -> dg.MaterializeResult:
        """Where time goes: each step of this run by Dagster's own step timings (start to
        success event), its rows and throughput, summed per stage, from the run's event log."""
        events, mats, run_start, report_start = run_records(context)
        steps = step_runs(events, mats, stage_of, run_start)
        report = pipeline_report_content(
            context.run.run_id, steps, run_start, report_start, datetime.now(UTC)
        )
        return dg.MaterializeResult(
            metadata={
                **write_report(reports, "pipeline_report", report),
                "stages": dg.MetadataValue.md(markdown_preview(report.figures["stages"])),
            }
        )

    return pipeline_report


EXPORT_READS = Reads(*(Table(export.group, table) for table, export in EXPORT_TABLES.items()))


@dg.asset(
    name="exports",
    group_name=GROUP,
    deps=EXPORT_READS.deps,
    owners=OWNER,
    kinds={"polars", "csv", "json", "xml", "parquet"},
)
def exports(lake: LakeResource, reports: ReportsResource) -> dg.MaterializeResult:
    """The final tables as CSV, JSON, XML and Parquet under reports/exports/, each file written
    atomically; they are for people, so e-mail addresses and phone numbers in them are masked."""
    started = time.perf_counter()
    folder = Path(reports.root) / "exports"
    counts = write_exports(partial(EXPORT_READS.scan, lake), folder)
    return dg.MaterializeResult(
        metadata={
            "folder": dg.MetadataValue.path(str(folder)),
            "rows_by_table": dg.MetadataValue.json(counts),
            "rows_in": dg.MetadataValue.int(sum(counts.values())),
            "rows_out": dg.MetadataValue.int(sum(counts.values())),
            "files": dg.MetadataValue.int(len(counts) * len(EXPORT_FORMATS)),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


class PostgresExportConfig(dg.Config):
    """Where in PostgreSQL the final tables are published."""

    schema_name: str = Field(
        default="pipeline",
        pattern=r"^[a-z_][a-z0-9_]{0,62}$",
        description="PostgreSQL schema that receives the tables (created if missing).",
    )


POSTGRES_READS = Reads(*(Table(group, table) for table, (group, _) in POSTGRES_TABLES.items()))


@dg.asset(
    name="postgres_exports",
    group_name=GROUP,
    deps=POSTGRES_READS.deps,
    owners=OWNER,
    kinds={"polars", "postgres"},
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
)
def postgres_exports(
    config: PostgresExportConfig, lake: LakeResource, postgres: PostgresResource
) -> dg.MaterializeResult:
    """Validated entities, current churn features, scores, segments, insights and
    recommendations published to PostgreSQL (PIPELINE_PG_URL); all the tables are swapped in
    together in one transaction, so a failed publish leaves every old table intact."""
    started = time.perf_counter()
    tables = [
        (f"{config.schema_name}.{table}", POSTGRES_READS.scan(lake, table), key)
        for table, (_, key) in POSTGRES_TABLES.items()
    ]
    with tempfile.TemporaryDirectory(prefix="pg-export-") as tmp:
        counts = publish_frames(postgres, tables, Path(tmp))
    seconds = time.perf_counter() - started
    total = sum(counts.values())
    return dg.MaterializeResult(
        metadata={
            "rows_by_table": dg.MetadataValue.json(counts),
            "tables": dg.MetadataValue.int(len(counts)),
            **run_metadata(rows_in=total, rows_out=total, seconds=seconds),
        }
    )


def build_report_assets(catalog: Mapping[str, DatasetSpec]) -> list[dg.AssetsDefinition]:
    """insights and recommendations, the data dictionary, the quality and insights reports,
    and the exports; the ``catalog``'s datasets name the quality history's writers and the
    quarantines they read, and their quality-score thresholds are the gates the quality
    report draws."""
    datasets = sorted(catalog)
    return [
        build_insights_asset(datasets),
        build_quality_report(
            {d: catalog[d].thresholds.overall_score for d in datasets},
            {d: pii_masks(catalog[d]) for d in datasets},
        ),
        build_data_dictionary(catalog),
        insights_report,
        exports,
    ]
