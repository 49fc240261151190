"""Insight builders as plain functions, on frames shaped like their inputs."""

import polars as pl

from assets.reports.insights import pricing_insights


def test_pricing_skips_the_null_category_of_products_that_failed_validation():
    # Found by the medium benchmark: orders of a quarantined product join to no category.
    by_category = pl.DataFrame(
        {
            "category": ["books", None],
            "elasticity": [-1.6, -1.2],
            "ci_low": [-1.9, -1.5],
            "ci_high": [-1.3, -0.9],
            "best_price_change": [-0.05, -0.05],
            "expected_revenue_change": [0.02, 0.01],
        }
    )
    revenue = pl.DataFrame({"category": ["books", None], "annual_revenue": [1e6, 1e4]})
    insights = pricing_insights(by_category, revenue)
    assert [i.insight_id for i in insights] == ["pricing-books"]
    assert insights[0].statement.startswith("Books demand has elasticity -1.60")
