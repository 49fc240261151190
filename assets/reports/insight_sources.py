"""The insights from the lake: each table the insight builders read, cut to the rows and columns
they use, and the builders called in report order."""

from __future__ import annotations

from typing import Any

import polars as pl

from assets.reports.insights import (
    Insight,
    anomaly_insights,
    churn_insights,
    quality_insights,
    revenue_insights,
    segment_insights,
)
from assets.reports.pricing import pricing_insights
from assets.reports.report import Scan

# The churn_features columns churn_insights reads from the holdout snapshot.
HOLDOUT_COLUMNS = ["plan_type", "churned", "support_intensity", "feature_usage_rate"]


def annual_category_revenue(orders: pl.LazyFrame, daily: pl.DataFrame) -> pl.DataFrame:
    """Revenue per category scaled to a year from the days ``daily`` (daily_revenue) spans."""
    days_span = max((daily["date"].max() - daily["date"].min()).days + 1, 1)  # type: ignore[operator]
    return (
        orders.group_by("category")
        .agg((pl.col("revenue").sum() * 365 / days_span).alias("annual_revenue"))
        .collect()
    )


def current_segments(segments: pl.LazyFrame, profiles: pl.LazyFrame) -> pl.LazyFrame:
    """Segments of current customers only (a semi-join: segments can be older than profiles)."""
    return segments.select("customer_id", "segment_description", "total_value").join(
        profiles.select("customer_id"), on="customer_id", how="semi"
    )


def insights_from_lake(
    scan: Scan, model: dict[str, Any], backtest_mape: float | None, quality: pl.DataFrame
) -> list[Insight]:
    """Every insight, from the analytics tables ``scan`` opens, the churn model's record, the
    forecast's recorded backtest MAPE and the quality summary.

    Only the columns the insights read: whole customer tables are 2.5M rows at `xl`.
    """
    holdout = (
        scan("churn_features")
        .filter(pl.col("snapshot") == "holdout")
        .select(HOLDOUT_COLUMNS)
        .collect()
    )
    daily = scan("daily_revenue").collect()
    elasticity = scan("price_elasticity").filter(pl.col("level") == "category").collect()
    return [
        *quality_insights(quality),
        *churn_insights(
            holdout,
            scan("churn_scores").select("customer_id", "risk_band", "churn_probability"),
            scan("churn_features_current").select("customer_id", "daily_value_rate"),
            model,
        ),
        *revenue_insights(daily, scan("revenue_forecast").collect(), backtest_mape),
        *pricing_insights(elasticity, annual_category_revenue(scan("enriched_orders"), daily)),
        *segment_insights(current_segments(scan("customer_segments"), scan("customer_profiles"))),
        *anomaly_insights(scan("anomalies").collect()),
    ]
