"""The insights' inputs cut from the lake tables, and every insight from a small lake."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest

from assets.reports.insight_sources import (
    annual_category_revenue,
    current_segments,
    insights_from_lake,
)
from assets.reports.insights import revenue_insights


def test_category_revenue_is_scaled_to_a_year_from_the_days_covered():
    orders = pl.LazyFrame({"category": ["a", "a", "b"], "revenue": [10.0, 20.0, 5.0]})
    daily = pl.DataFrame({"date": [date(2024, 1, 1), date(2024, 1, 5)]})  # 5 days
    got = annual_category_revenue(orders, daily).sort("category")
    assert got["annual_revenue"].to_list() == pytest.approx([30 * 73, 5 * 73])


def test_segments_keep_only_customers_with_a_profile():
    segments = pl.LazyFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "segment_description": ["x", "y", "x"],
            "total_value": [1.0, 2.0, 3.0],
            "cluster": [0, 1, 0],
        }
    )
    profiles = pl.LazyFrame({"customer_id": ["C3", "C1"], "name": ["c", "a"]})
    got = current_segments(segments, profiles).collect().sort("customer_id")
    assert got.columns == ["customer_id", "segment_description", "total_value"]
    assert got["customer_id"].to_list() == ["C1", "C3"]


def _daily(days: int) -> pl.DataFrame:
    start = date(2024, 1, 1)
    return pl.DataFrame(
        {"date": [start + timedelta(days=i) for i in range(days)], "revenue": [100.0] * days}
    )


def _forecast(start: date = date(2024, 2, 10), days: int = 40) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "date": [start + timedelta(days=i) for i in range(days)],
            "forecast": [110.0] * days,
            "lower_95": [80.0] * days,
            "upper_95": [140.0] * days,
        }
    )


def test_the_recorded_backtest_sets_the_forecasts_confidence():
    (good,) = revenue_insights(_daily(40), _forecast(), 0.1)
    assert good.statement.endswith("Backtest MAPE 10.0%.") and good.confidence == "high"
    assert good.evidence["backtest_mape"] == 0.1
    assert revenue_insights(_daily(40), _forecast(), 0.2)[0].confidence == "medium"
    (unknown,) = revenue_insights(_daily(40), _forecast(), None)
    assert unknown.statement.endswith("No backtest recorded.") and unknown.confidence == "low"
    assert good.impact_eur == pytest.approx(30 * 110.0 - 30 * 100.0)


def test_the_forecast_statement_names_its_windows_and_its_interval_level():
    # 40 days of data, 2024-01-01 to 2024-02-09; the forecast starts the next day.
    (item,) = revenue_insights(_daily(40), _forecast(), 0.1)
    assert item.statement.startswith(
        "Revenue for the 30 days 2024-02-10 to 2024-03-10 (the first 30 days after the data "
        "ends on 2024-02-09) is forecast at EUR 3,300, 10.0% more than the last 30 days of "
        "data (2024-01-11 to 2024-02-09: EUR 3,000). If every day landed at the low or the "
        "high end of its 95% interval, the 30 days would bring EUR 2,400 to EUR 4,200."
    )
    assert item.evidence["window"] == ["2024-02-10", "2024-03-10"]
    assert item.evidence["interval_95"] == [2400.0, 4200.0]


def test_every_insight_comes_from_the_named_tables():
    tables = {
        "churn_features": pl.DataFrame(
            {
                "snapshot": ["holdout"] * 4 + ["train"],
                "plan_type": ["free", "pro", "free", "pro", "free"],
                "churned": [True, False, False, False, True],
                "support_intensity": [0.9, 0.1, 0.5, 0.2, 0.0],
                "feature_usage_rate": [0.1, 0.9, 0.5, 0.8, 0.0],
            }
        ),
        "churn_scores": pl.DataFrame(
            {"customer_id": ["C1"], "risk_band": ["high"], "churn_probability": [0.5]}
        ),
        "churn_features_current": pl.DataFrame({"customer_id": ["C1"], "daily_value_rate": [2.0]}),
        "daily_revenue": _daily(40),
        "revenue_forecast": _forecast(),
        "price_elasticity": pl.DataFrame(
            {
                "level": ["category", "product"],
                "category": ["books", "books"],
                "elasticity": [-1.5, -1.0],
                "ci_low": [-1.8, -1.2],
                "ci_high": [-1.2, -0.8],
                "best_price_change": [-0.1, 0.0],
                "expected_revenue_change": [0.05, 0.0],
            }
        ),
        "enriched_orders": pl.DataFrame({"category": ["books"], "revenue": [400.0]}),
        "customer_segments": pl.DataFrame(
            {"customer_id": ["C1"], "segment_description": ["loyal"], "total_value": [9.0]}
        ),
        "customer_profiles": pl.DataFrame({"customer_id": ["C1"]}),
        "anomalies": pl.DataFrame(
            {
                "entity_type": ["day"],
                "entity_id": ["2024-01-03"],
                "period": [date(2024, 1, 3)],
                "score": [6.0],
                "drivers": ["revenue 49336.0 vs expected 2222.0 (z 6.0)"],
            }
        ),
    }
    quality = pl.DataFrame(
        {
            "dataset": ["orders"],
            "quality_score": [90.0],
            "rows_in": [100],
            "quarantined_rows": [10],
            "worst_rule": ["positive(qty)"],
        }
    )
    model = {"metrics": {"roc_auc": 0.85}}
    items = insights_from_lake(lambda name: tables[name].lazy(), model, 0.1, quality)
    assert [i.insight_id for i in items] == [
        "quality-orders",
        "churn-plan",
        "churn-support",
        "churn-usage",
        "churn-revenue-at-risk",
        "revenue-forecast",
        "pricing-books",
        "segments-top",
        "anomalies-days",
    ]
    risk = next(i for i in items if i.insight_id == "churn-revenue-at-risk")
    assert risk.impact_eur == pytest.approx(2.0 * 365 * 0.5)
    pricing = next(i for i in items if i.insight_id == "pricing-books")
    # 400 EUR over the 40 days daily_revenue covers, a year of it, +5%.
    assert pricing.impact_eur == pytest.approx(400 * 365 / 40 * 0.05)
