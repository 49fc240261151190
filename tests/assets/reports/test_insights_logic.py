"""Insight builders as plain functions, on frames shaped like their inputs."""

import polars as pl

from assets.reports.pricing import pricing_insights


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


def test_pricing_confidence_asks_whether_the_interval_lies_on_one_side_of_minus_one():
    by_category = pl.DataFrame(
        {
            # toys: the interval spans 0 but lies above -1; apparel: it excludes 0 but holds -1.
            "category": ["toys", "apparel"],
            "elasticity": [0.10, -1.31],
            "ci_low": [-0.74, -1.97],
            "ci_high": [0.93, -0.65],
            "best_price_change": [0.2, -0.2],
            "expected_revenue_change": [1.2**1.10 - 1, 0.8 ** (1 - 1.31) - 1],
        }
    )
    revenue = pl.DataFrame({"category": ["toys", "apparel"], "annual_revenue": [1e5, 1e5]})
    toys, apparel = pricing_insights(by_category, revenue)
    assert (toys.confidence, apparel.confidence) == ("high", "low")
    # The revenue change at both ends of the interval: one sign for toys, both for apparel.
    assert "+4.9% to +42.2% across the interval, high confidence" in toys.statement
    assert "-7.5% to +24.2% across the interval, low confidence" in apparel.statement
    assert "one side of -1" in toys.evidence["confidence_rule"]


def test_revenue_at_risk_sums_the_high_risk_customers_expected_loss():
    import pytest

    from assets.reports.insights import churn_insights

    holdout = pl.DataFrame(
        {
            "plan_type": ["free", "pro"] * 4,
            "churned": [True, False, True, False, False, False, True, False],
            "support_intensity": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8],
            "feature_usage_rate": [0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1],
        }
    )
    scores = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "risk_band": ["high", "low", "high", "high"],
            "churn_probability": [0.9, 0.1, 0.7, 0.6],
        }
    )
    # C4 has no current value row (inner join): it is not counted.
    current = pl.DataFrame(
        {"customer_id": ["C3", "C2", "C1", "C9"], "daily_value_rate": [2.0, 5.0, 1.0, 9.0]}
    )
    model = {"metrics": {"roc_auc": 0.9}, "importances": []}
    for s, c in ((scores, current), (scores.lazy(), current.lazy())):
        risk = next(i for i in churn_insights(holdout, s, c, model) if "revenue" in i.insight_id)
        assert risk.evidence["high_risk_customers"] == 2
        assert risk.impact_eur == pytest.approx(1.0 * 365 * 0.9 + 2.0 * 365 * 0.7)


def test_top_segment_shares_count_every_customer_once():
    from assets.reports.insights import segment_insights

    segments = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "segment_description": ["loyal", "loyal", "new", "new"],
            "total_value": [900.0, 700.0, 100.0, 300.0],
        }
    )
    for frame in (segments, segments.lazy()):
        (top,) = segment_insights(frame)
        assert top.statement.startswith(
            "The segment 'loyal' is 50.0% of customers and brings 80.0% of all value"
        )
