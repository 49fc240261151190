"""The insights report's page from small tables handed in by name."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from assets.reports.insights_page import insights_report, segment_sizes, statements


def test_statements_of_one_category_are_escaped_list_items():
    insights = pl.DataFrame({"category": ["churn", "revenue"], "statement": ["a < b", "r"]})
    assert statements(insights, "churn") == "<ul><li>a &lt; b</li></ul>"


def test_segments_are_counted_largest_first():
    segments = pl.LazyFrame({"segment_description": ["x", "y", "y"]})
    assert segment_sizes(segments).rows() == [("y", 2), ("x", 1)]


def test_page_has_every_chart_and_the_three_largest_impacts_as_headlines():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(200)]
    ahead = [days[-1] + timedelta(days=i + 1) for i in range(5)]
    tables = {
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
        "daily_revenue": pl.DataFrame({"date": days, "revenue": [1.0] * 200}),
        "revenue_forecast": pl.DataFrame(
            {
                "date": ahead,
                "forecast": [1.0] * 5,
                "lower_95": [0.5] * 5,
                "upper_95": [1.5] * 5,
            }
        ),
        "churn_scores": pl.DataFrame({"churn_probability": [0.1, 0.5, 0.9]}),
        "price_elasticity": pl.DataFrame(
            {
                "level": ["category"],
                "category": ["books"],
                "elasticity": [-1.2],
                "ci_low": [-1.5],
                "ci_high": [-0.9],
            }
        ),
        "customer_segments": pl.DataFrame({"segment_description": ["x", "y", "y"]}),
        "anomalies": pl.DataFrame({"entity_id": ["d"], "score": [6.0]}),
    }
    report = insights_report(lambda name: tables[name].lazy(), date(2024, 8, 1))
    for chart in ("churn-risk", "revenue-forecast", "elasticity", "segments"):
        assert f'data-chart="{chart}"' in report.page
    assert '<div class="summary"><ol><li>p</li><li>c</li><li>a</li></ol></div>' in report.page
    assert report.figures == {
        "headline_insights": "- p\n- c\n- a",
        "insights": 5,
        "recommendations": 1,
    }
    assert report.payload["recommendations"][0]["action"] == "act"
