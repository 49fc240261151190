"""The insights report's page from small tables handed in by name."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest

from assets.reports.anomaly_tables import AnomalyTextError, anomalous_days
from assets.reports.insights_page import insights_report
from assets.reports.insights_sections import segment_table, statements

DAY_DRIVERS = "revenue 49336.0 vs expected 2222.0 (z 7.6)"


def test_statements_of_one_category_are_escaped_list_items():
    insights = pl.DataFrame({"category": ["churn", "revenue"], "statement": ["a < b", "r"]})
    assert statements(insights, "churn") == "<ul><li>a &lt; b</li></ul>"


def test_segments_count_current_customers_largest_first():
    segments = pl.LazyFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "segment_description": ["x", "y", "y", "y"],
            "total_value": [10.0, 20.0, 30.0, 40.0],
            "order_count": [1, 2, 3, 4],
            "recency_days": [5, 6, 7, 8],
            "feature_usage_count": [1, 1, 1, 1],
        }
    )
    profiles = pl.LazyFrame({"customer_id": ["C1", "C2", "C3"]})  # C4 left
    table = segment_table(segments, profiles)
    assert table.select("segment_description", "customers").rows() == [("y", 2), ("x", 1)]
    assert table["share_of_value"].to_list() == pytest.approx([50 / 60, 10 / 60])


def test_day_anomalies_are_read_from_their_drivers_or_refused():
    frame = pl.DataFrame(
        {
            "entity_type": ["day", "customer"],
            "entity_id": ["2024-10-07", "C1"],
            "period": [date(2024, 10, 7), date(2025, 1, 1)],
            "score": [7.6, 0.6],
            "drivers": [DAY_DRIVERS, "total_value high (z 3.0)"],
        }
    )
    day = anomalous_days(frame).row(0, named=True)
    assert (day["revenue"], day["expected_revenue"], day["z"]) == (49336.0, 2222.0, 7.6)
    with pytest.raises(AnomalyTextError, match="2024-10-07: 'revenue about 5'"):
        anomalous_days(frame.with_columns(pl.lit("revenue about 5").alias("drivers")))


def _tables() -> dict[str, pl.DataFrame]:
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(200)]
    ahead = [days[-1] + timedelta(days=i + 1) for i in range(40)]
    return {
        "insights": pl.DataFrame(
            {
                "category": ["churn", "revenue", "pricing", "segments", "anomalies"],
                "statement": ["c", "r", "p", "s", "a"],
                "impact_eur": [5.0, None, 9.0, 1.0, 3.0],
            }
        ),
        "recommendations": pl.DataFrame(
            {
                "rank": [1],
                "priority": [0.5],
                "action": ["act"],
                "target": ["t"],
                "expected_effect": ["e"],
                "owner": ["o"],
                "confidence": ["high"],
            }
        ),
        "daily_revenue": pl.DataFrame({"date": days, "revenue": [1000.0] * 200}),
        "revenue_forecast": pl.DataFrame(
            {
                "date": ahead,
                "forecast": [1.0] * 40,
                "lower_95": [0.5] * 40,
                "upper_95": [1.5] * 40,
            }
        ),
        "churn_scores": pl.DataFrame(
            {
                "churn_probability": [0.1, 0.5, 0.9],
                "risk_band": ["low", "medium", "high"],
                "cutoff_date": [days[-1]] * 3,
            }
        ),
        "price_elasticity": pl.DataFrame(
            {
                "level": ["category"],
                "category": ["books"],
                "elasticity": [-1.2],
                "ci_low": [-1.5],
                "ci_high": [-0.9],
                "best_price_change": [-0.2],
                "expected_revenue_change": [0.8**-0.2 - 1],
            }
        ),
        "customer_segments": pl.DataFrame(
            {
                "customer_id": ["C1", "C2", "C3"],
                "segment_description": ["x", "y", "y"],
                "total_value": [1.0, 2.0, 3.0],
                "order_count": [1, 1, 1],
                "recency_days": [1, 1, 1],
                "feature_usage_count": [1, 1, 1],
            }
        ),
        "customer_profiles": pl.DataFrame(
            {"customer_id": ["C1", "C2", "C3"], "as_of_date": [days[-1]] * 3}
        ),
        "anomalies": pl.DataFrame(
            {
                "entity_type": ["day", "product", "customer"],
                "entity_id": ["2024-03-01", "P1", "C1"],
                "period": [date(2024, 3, 1), date(2024, 2, 26), days[-1]],
                "score": [7.6, 5.0, 0.7],
                "drivers": [DAY_DRIVERS, "weekly revenue 1200.0 (z 5.0)", "total_value low (z -3)"],
            }
        ),
    }


def test_page_has_every_chart_and_the_three_largest_impacts_as_headlines():
    tables = _tables()
    report = insights_report(lambda name: tables[name].lazy(), datetime(2024, 8, 1, tzinfo=UTC))
    for chart in ("churn-risk", "revenue-forecast", "elasticity", "segments", "anomalies"):
        assert f'data-chart="{chart}"' in report.page
    assert '<div class="summary"><ol><li>p</li><li>c</li><li>a</li></ol></div>' in report.page
    assert report.figures == {
        "headline_insights": "- p\n- c\n- a",
        "insights": 5,
        "recommendations": 1,
    }
    assert report.payload["recommendations"][0]["action"] == "act"


def test_page_dates_its_data_and_forecast_window_and_prints_money_for_people():
    tables = _tables()
    page = insights_report(lambda name: tables[name].lazy(), datetime(2024, 8, 1, tzinfo=UTC)).page
    assert "Data through 2024-07-18 (the last day of daily revenue)." in page
    assert "first 30 days, 2024-07-19 to 2024-08-17" in page
    assert "not on the day this page was generated (2024-08-01)" in page
    # Every kind of anomaly is shown, its money with separators and no float repr.
    assert "1 day, 1 product-week and 1 customer were flagged" in page
    assert "EUR 49,336" in page and "EUR 2,222" in page and "EUR 1,200" in page
    assert "49336.0" not in page
    assert "one side of -1" in page  # the pricing confidence rule is stated
