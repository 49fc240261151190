"""Reports wiring: insights, recommendations, and the quality, insights and pipeline reports."""

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from assets.common.metadata import markdown_preview, run_metadata
from assets.common.postgres import publish_frame
from assets.common.publish import publish_table
from assets.core.writers import write_lazy
from assets.reports import html as h
from assets.reports.insights import (
    anomaly_insights,
    churn_insights,
    insights_frame,
    pricing_insights,
    quality_insights,
    recommendations,
    revenue_insights,
    segment_insights,
)
from assets.reports.postgres_export import POSTGRES_TABLES
from resources import LakeResource, LandingZoneResource, ReportsResource, WarehouseResource
from resources.postgres import PostgresResource

GROUP = "reports"
OWNER = ["team:analytics-engineering"]
STAGES = ["ingestion", "validation", "enrichment", "features", "analytics", "reports"]


def _model_record(lake: LakeResource) -> dict:
    pointer = json.loads((lake.table_dir("analytics", "churn_model") / "latest.json").read_text())
    importances = lake.table_dir("analytics", "churn_model")
    return {**pointer, "importances": pointer.get("importances", []), "dir": str(importances)}


def quality_summary(lake: LakeResource) -> pl.DataFrame:
    """Latest run's metrics per dataset, with the rule that quarantined the most rows."""
    history = lake.scan("validation", "quality_history").collect()
    latest = history.sort("recorded_at").group_by("dataset").agg(pl.col("run_id").last())
    wide = (
        history.join(latest, on=["dataset", "run_id"])
        .filter(
            pl.col("metric").is_in(
                ["overall_score", "rows_in", "valid_rows", "quarantined_rows", "exact_duplicates"]
            )
        )
        .pivot(on="metric", index="dataset", values="value")
    )
    worst = []
    for dataset in wide["dataset"].to_list():
        q = lake.scan("validation", f"quarantined_{dataset}").select(
            pl.col("_rules").str.split(", ").explode()
        )
        top = q.group_by("_rules").len().sort("len", descending=True).head(1).collect()
        worst.append({"dataset": dataset, "worst_rule": top["_rules"][0] if top.height else "none"})
    return (
        wide.join(
            pl.DataFrame(worst, schema={"dataset": pl.String, "worst_rule": pl.String}),
            on="dataset",
        )
        .with_columns(
            pl.col("overall_score").alias("quality_score"),
            pl.col("rows_in", "valid_rows", "quarantined_rows", "exact_duplicates").cast(pl.Int64),
        )
        .sort("dataset")
    )


@dg.multi_asset(
    name="build_insights",
    specs=[
        dg.AssetSpec(
            "insights",
            group_name=GROUP,
            deps=[
                "churn_features",
                "churn_features_current",
                "churn_scores",
                "churn_model",
                "daily_revenue",
                "revenue_forecast",
                "price_elasticity",
                "enriched_orders",
                "customer_segments",
                "anomalies",
            ],
            description="Statements backed by numbers from the analytics and validation, each with "
            "evidence (figures, source asset, query), confidence and impact in EUR.",
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
    started = time.perf_counter()
    # Only the columns the insights read: whole customer tables are 2.5M rows at `xl`.
    features = (
        lake.scan("features", "churn_features")
        .filter(pl.col("snapshot") == "holdout")
        .select(HOLDOUT_COLUMNS)
        .collect()
    )
    model = _model_record(lake)
    forecast_meta = lake.scan("analytics", "revenue_forecast").collect()
    daily = lake.scan("enrichment", "daily_revenue").collect()
    from assets.analytics.forecast import backtest_mape

    mape, _ = backtest_mape(daily.sort("date"), holdout_days=60)
    elasticity = (
        lake.scan("analytics", "price_elasticity").filter(pl.col("level") == "category").collect()
    )
    days_span = max((daily["date"].max() - daily["date"].min()).days + 1, 1)  # type: ignore[operator]
    category_revenue = (
        lake.scan("enrichment", "enriched_orders")
        .group_by("category")
        .agg((pl.col("revenue").sum() * 365 / days_span).alias("annual_revenue"))
        .collect()
    )
    items = [
        *quality_insights(quality_summary(lake)),
        *churn_insights(
            features,
            lake.scan("analytics", "churn_scores").select(
                "customer_id", "risk_band", "churn_probability"
            ),
            lake.scan("features", "churn_features_current").select(
                "customer_id", "daily_value_rate"
            ),
            model,
        ),
        *revenue_insights(daily, forecast_meta, mape),
        *pricing_insights(elasticity, category_revenue),
        *segment_insights(
            # Current customers only (a semi-join: segments older than the profiles).
            lake.scan("analytics", "customer_segments")
            .select("customer_id", "segment_description", "total_value")
            .join(
                lake.scan("enrichment", "customer_profiles").select("customer_id"),
                on="customer_id",
                how="semi",
            )
        ),
        *anomaly_insights(lake.scan("analytics", "anomalies").collect()),
    ]
    frame = insights_frame(items)
    recs = recommendations(items)
    meta_i = publish_table(
        lake, warehouse, GROUP, "insights", frame, rows_in=len(items), started=started
    )
    meta_i["headlines"] = dg.MetadataValue.md(
        "\n".join(
            f"- **{i.category}**: {i.statement}"
            for i in sorted(items, key=lambda i: -(i.impact_eur or 0))[:5]
        )
    )
    meta_r = publish_table(
        lake, warehouse, GROUP, "recommendations", recs, rows_in=len(items), started=started
    )
    meta_r["top_actions"] = dg.MetadataValue.md(
        markdown_preview(recs.select("rank", "priority", "action", "owner").head(5))
    )
    context.log.info(f"{len(items)} insights, {recs.height} recommendations.")
    yield dg.MaterializeResult(asset_key="insights", metadata=meta_i)
    yield dg.MaterializeResult(asset_key="recommendations", metadata=meta_r)


def _write_pair(reports: ReportsResource, stem: str, page: str, payload: dict) -> tuple[Path, Path]:
    html_path = reports.write(f"{stem}.html", page)
    json_path = reports.write(f"{stem}.json", json.dumps(payload, indent=1, default=str))
    return html_path, json_path


@dg.asset(
    name="quality_report",
    group_name=GROUP,
    deps=["insights"],
    owners=OWNER,
    kinds={"html"},
    description="Self-contained HTML page (and JSON twin) on data quality: rows in, valid and "
    "quarantined per dataset, rule failures with examples, score trends, drift, bad files.",
)
def quality_report(
    lake: LakeResource, landing: LandingZoneResource, reports: ReportsResource
) -> dg.MaterializeResult:
    summary = quality_summary(lake)
    history = (
        lake.scan("validation", "quality_history")
        .filter(pl.col("metric") == "overall_score")
        .collect()
    )
    trend = history.sort("recorded_at").with_columns(
        pl.col("recorded_at").rank("dense").over("dataset").alias("run")
    )
    datasets = summary["dataset"].to_list()
    series = {d: trend.filter(pl.col("dataset") == d)["value"].to_list() for d in datasets}
    longest = max((len(v) for v in series.values()), default=0)
    runs = list(range(1, longest + 1))
    padded: dict[str, list[float | None]] = {
        d: [*([None] * (longest - len(v))), *v] for d, v in series.items()
    }
    rules = []
    for d in datasets:
        q = lake.scan("validation", f"quarantined_{d}").select("_rules", "_reason")
        counts = q.group_by("_rules").agg(
            pl.len().alias("rows"), pl.col("_reason").head(2).str.join(" | ").alias("examples")
        )
        rules.append(counts.with_columns(pl.lit(d).alias("dataset")).collect())
    rule_table = (
        pl.concat(rules)
        .select("dataset", "_rules", "rows", "examples")
        .sort("rows", descending=True)
        if rules
        else pl.DataFrame()
    )
    drift = {}
    for d in datasets:
        state = lake.state_path("validation", f"{d}_drift.json")
        drift[d] = json.loads(state.read_text()) if state.exists() else {}
    drift_rows = pl.DataFrame(
        [
            {
                "dataset": d,
                "added": ", ".join(v.get("added", [])),
                "removed": ", ".join(v.get("removed", [])),
                "retyped": ", ".join(v.get("retyped", [])),
            }
            for d, v in drift.items()
        ]
    )
    sidecars = sorted(Path(landing.quarantine_root).glob("files/*/*.json"))
    files = (
        pl.DataFrame([json.loads(p.read_text()) for p in sidecars])
        if sidecars
        else pl.DataFrame({"file": [], "reason": []})
    )
    sections = [
        ("Rows per dataset", h.table(summary)),
        (
            "Quality score over runs",
            h.chart(h.line_chart(runs, padded, "Overall quality score by run"), "quality-trend"),
        ),
        (
            "Rule failures with examples",
            h.table(rule_table) if rule_table.height else "<p>No rule failed.</p>",
        ),
        ("Schema drift since the previous run", h.table(drift_rows)),
        (
            "Quarantined files",
            h.table(
                files.select(
                    [
                        c
                        for c in ("entity", "file", "reason", "quarantined_at")
                        if c in files.columns
                    ]
                )
            )
            if files.height
            else "<p>No file was quarantined.</p>",
        ),
    ]
    worst = summary.sort("quality_score").row(0, named=True)
    page = h.page(
        "Data quality report",
        datetime.now(UTC).date(),
        sections,
        summary=f"{int(summary['quarantined_rows'].sum()):,} rows quarantined across "
        f"{summary.height} datasets; lowest score {worst['quality_score']:.1f} "
        f"({worst['dataset']}).",
    )
    payload = {
        "datasets": summary.to_dicts(),
        "rules": rule_table.to_dicts(),
        "drift": drift,
        "quarantined_files": files.to_dicts(),
        "score_history": trend.to_dicts(),
    }
    html_path, json_path = _write_pair(reports, "quality_report", page, payload)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(html_path)),
            "json": dg.MetadataValue.path(str(json_path)),
            "rows_quarantined": dg.MetadataValue.int(int(summary["quarantined_rows"].sum())),
            "lowest_quality_score": dg.MetadataValue.float(float(worst["quality_score"])),
            "quarantined_files": dg.MetadataValue.int(files.height),
        }
    )


@dg.asset(
    name="insights_report",
    group_name=GROUP,
    deps=["insights", "recommendations"],
    owners=OWNER,
    kinds={"html"},
    description="HTML page (and JSON twin) for business readers: executive summary, churn, revenue "
    "forecast, pricing, segments and anomalies, then the ranked recommendations.",
)
def insights_report(lake: LakeResource, reports: ReportsResource) -> dg.MaterializeResult:
    insights = lake.scan(GROUP, "insights").collect()
    recs = lake.scan(GROUP, "recommendations").collect()
    daily = lake.scan("enrichment", "daily_revenue").collect().sort("date").tail(180)
    fc = lake.scan("analytics", "revenue_forecast").collect()
    probabilities = lake.scan("analytics", "churn_scores").select("churn_probability").collect()
    el = lake.scan("analytics", "price_elasticity").filter(pl.col("level") == "category").collect()
    seg = (
        lake.scan("analytics", "customer_segments")
        .group_by("segment_description")
        .len()
        .sort("len", descending=True)
        .collect()
    )
    anomalies = lake.scan("analytics", "anomalies").collect()

    def statements(category: str) -> str:
        rows = insights.filter(pl.col("category") == category)
        return (
            "<ul>"
            + "".join(f"<li>{h.html.escape(s)}</li>" for s in rows["statement"].to_list())
            + "</ul>"
        )

    forecast_chart = h.line_chart(
        daily["date"].to_list() + fc["date"].to_list(),
        {
            "actual revenue": daily["revenue"].to_list() + [None] * fc.height,
            "forecast": [None] * daily.height + fc["forecast"].to_list(),
        },
        "Daily revenue: last 180 days and the 90-day forecast (95% interval shaded)",
        band=(
            fc["date"].to_list(),
            fc["lower_95"].to_list(),
            fc["upper_95"].to_list(),
            "95% interval",
        ),
    )
    errors = [
        (el["elasticity"] - el["ci_low"]).to_list(),
        (el["ci_high"] - el["elasticity"]).to_list(),
    ]
    top = insights.sort("impact_eur", descending=True, nulls_last=True).head(3)
    summary = (
        "<ol>"
        + "".join(f"<li>{h.html.escape(s)}</li>" for s in top["statement"].to_list())
        + "</ol>"
    )
    sections = [
        (
            "Churn",
            statements("churn")
            + h.chart(
                h.histogram(
                    probabilities.to_series().to_numpy(),
                    "Churn probability of current customers",
                ),
                "churn-risk",
            ),
        ),
        ("Revenue forecast", statements("revenue") + h.chart(forecast_chart, "revenue-forecast")),
        (
            "Pricing",
            statements("pricing")
            + h.chart(
                h.bar_chart(
                    el["category"].to_list(),
                    el["elasticity"].to_list(),
                    "Price elasticity by category (95% CI)",
                    errors,
                ),
                "elasticity",
            ),
        ),
        (
            "Segments",
            statements("segments")
            + h.chart(
                h.bar_chart(
                    seg["segment_description"].to_list(),
                    seg["len"].to_list(),
                    "Customers per segment",
                ),
                "segments",
            ),
        ),
        ("Anomalies", statements("anomalies") + h.table(anomalies.head(20))),
        ("Data quality", statements("data quality")),
        (
            "Recommendations",
            h.table(
                recs.select(
                    "rank", "priority", "action", "target", "expected_effect", "owner", "confidence"
                )
            ),
        ),
    ]
    page = h.page("Insights report", datetime.now(UTC).date(), sections, summary=summary)
    payload = {"insights": insights.to_dicts(), "recommendations": recs.to_dicts()}
    html_path, json_path = _write_pair(reports, "insights_report", page, payload)
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(html_path)),
            "json": dg.MetadataValue.path(str(json_path)),
            "headline_insights": dg.MetadataValue.md(
                "\n".join(f"- {s}" for s in top["statement"].to_list())
            ),
            "insights": dg.MetadataValue.int(insights.height),
            "recommendations": dg.MetadataValue.int(recs.height),
        }
    )


def build_pipeline_report(stage_of: dict[str, str]) -> dg.AssetsDefinition:
    """``stage_of`` maps each asset name to its group, taken from the Definitions."""

    @dg.asset(
        name="pipeline_report",
        group_name=GROUP,
        deps=["quality_report", "insights_report"],
        owners=OWNER,
        kinds={"html"},
        description="Where time goes: duration, rows and throughput per stage of this run, "
        "from the run's own materialization records.",
    )
    def pipeline_report(
        context: dg.AssetExecutionContext, reports: ReportsResource
    ) -> dg.MaterializeResult:
        records = context.instance.all_logs(
            context.run.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
        )
        rows = []
        for record in records:
            mat = record.asset_materialization
            if mat is None:
                continue
            meta = mat.metadata
            duration = meta.get("duration_s")
            rows_in = meta.get("rows_in")
            rows.append(
                {
                    "asset": mat.asset_key.to_user_string(),
                    "stage": stage_of.get(mat.asset_key.to_user_string(), "other"),
                    "duration_s": float(duration.value) if duration is not None else 0.0,  # type: ignore[arg-type]
                    "rows_in": int(rows_in.value) if rows_in is not None else 0,  # type: ignore[arg-type]
                }
            )
        frame = pl.DataFrame(
            rows,
            schema={
                "asset": pl.String,
                "stage": pl.String,
                "duration_s": pl.Float64,
                "rows_in": pl.Int64,
            },
        )
        stages = (
            frame.group_by("stage")
            .agg(
                pl.len().alias("assets"),
                pl.col("duration_s").sum().round(3),
                pl.col("rows_in").sum(),
            )
            .with_columns(
                (pl.col("rows_in") / pl.col("duration_s").clip(1e-9))
                .round(0)
                .alias("rows_per_second")
            )
            .with_columns(
                pl.col("stage")
                .replace_strict({s: i for i, s in enumerate(STAGES)}, default=99)
                .alias("order")
            )
            .sort("order")
            .drop("order")
        )
        sections = [
            (
                "Time per stage",
                h.chart(
                    h.bar_chart(
                        stages["stage"].to_list(),
                        stages["duration_s"].to_list(),
                        "Seconds per stage (this run)",
                    ),
                    "stage-time",
                )
                + h.table(stages),
            ),
            ("Assets", h.table(frame.sort("duration_s", descending=True))),
        ]
        page = h.page(
            "Pipeline report",
            datetime.now(UTC).date(),
            sections,
            summary=(
                f"Run {context.run.run_id[:8]}: {frame.height} assets, "
                f"{float(frame['duration_s'].sum()):.1f} s of compute."
            ),
        )
        html_path, json_path = _write_pair(
            reports,
            "pipeline_report",
            page,
            {"run_id": context.run.run_id, "stages": stages.to_dicts(), "assets": frame.to_dicts()},
        )
        return dg.MaterializeResult(
            metadata={
                "path": dg.MetadataValue.path(str(html_path)),
                "json": dg.MetadataValue.path(str(json_path)),
                "stages": dg.MetadataValue.md(markdown_preview(stages)),
            }
        )

    return pipeline_report


# The churn_features columns churn_insights reads from the holdout snapshot.
HOLDOUT_COLUMNS = ["plan_type", "churned", "support_intensity", "feature_usage_rate"]

EXPORT_TABLES = {
    "insights": "reports",
    "recommendations": "reports",
    "churn_scores": "analytics",
    "customer_segments": "analytics",
    "revenue_forecast": "analytics",
    "price_elasticity": "analytics",
    "anomalies": "analytics",
}
EXPORT_FORMATS = ("csv", "json", "xml", "parquet")


@dg.asset(
    name="exports",
    group_name=GROUP,
    deps=list(EXPORT_TABLES),
    owners=OWNER,
    kinds={"polars", "csv", "json", "xml", "parquet"},
    description="The final tables as CSV, JSON, XML and Parquet under reports/exports/, each file "
    "written atomically.",
)
def exports(lake: LakeResource, reports: ReportsResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    folder = Path(reports.root) / "exports"
    counts = {}
    # Streamed, or written a batch at a time: XML and JSON of 2.5M churn scores built whole
    # took the reports stage to 3.3 GB at `xl`.
    for table, group in EXPORT_TABLES.items():
        for fmt in EXPORT_FORMATS:
            counts[table] = write_lazy(lake.scan(group, table), folder / f"{table}.{fmt}", fmt)
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


@dg.asset(
    name="postgres_exports",
    group_name=GROUP,
    deps=list(POSTGRES_TABLES),
    owners=OWNER,
    kinds={"polars", "postgres"},
    retry_policy=dg.RetryPolicy(
        max_retries=2, delay=5, backoff=dg.Backoff.EXPONENTIAL, jitter=dg.Jitter.PLUS_MINUS
    ),
    description="Validated entities, current churn features, scores, segments, insights and "
    "recommendations published to PostgreSQL (PIPELINE_PG_URL); each table is swapped in whole "
    "in one transaction, so a failed publish leaves the old rows intact.",
)
def postgres_exports(
    config: PostgresExportConfig, lake: LakeResource, postgres: PostgresResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="pg-export-") as tmp:
        for table, (group, key) in POSTGRES_TABLES.items():
            counts[f"{config.schema_name}.{table}"] = publish_frame(
                postgres,
                lake.scan(group, table),
                f"{config.schema_name}.{table}",
                Path(tmp),
                key=key,
            )
    seconds = time.perf_counter() - started
    total = sum(counts.values())
    return dg.MaterializeResult(
        metadata={
            "rows_by_table": dg.MetadataValue.json(counts),
            "tables": dg.MetadataValue.int(len(counts)),
            **run_metadata(rows_in=total, rows_out=total, seconds=seconds),
        }
    )


REPORT_ASSETS = [build_insights, quality_report, insights_report, exports]
