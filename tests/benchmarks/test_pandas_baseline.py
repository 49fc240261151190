"""The pandas baseline's analytics do the pipeline's work: the same models give the same answers
on the same inputs, so the benchmark compares like with like."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import polars as pl
import pytest

from assets.analytics.anomalies import product_anomalies
from assets.analytics.elasticity import elasticities
from assets.analytics.forecast import backtest_mape, fit_seasonal, forecast, residual_anomalies
from benchmarks.pandas_baseline import analytics as baseline


@pytest.fixture(scope="module")
def daily() -> pl.DataFrame:
    """Two years of daily revenue: trend, weekday pattern, noise and three spikes."""
    rng = np.random.default_rng(5)
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(730)]
    t = np.arange(730) / 365.25
    weekday = np.array([d.weekday() for d in days])
    log_revenue = 9 + 0.25 * t + 0.15 * (weekday >= 5) + rng.normal(0, 0.05, 730)
    log_revenue[[100, 400, 650]] += [1.0, -1.2, 0.9]
    return pl.DataFrame({"date": days, "revenue": np.expm1(log_revenue)})


@pytest.fixture(scope="module")
def weekly() -> pl.DataFrame:
    """Up to 40 weeks of 24 products in three categories, each with its own elasticity."""
    rng = np.random.default_rng(9)
    products, weeks = 24, 40
    p = np.repeat(np.arange(products), weeks)
    w = np.tile(np.arange(weeks), products)
    price = 10 * np.exp(rng.normal(0, 0.1, p.size))
    slope = -0.5 - (p % 5) * 0.4
    quantity = 80 * price**slope * np.exp(rng.normal(0, 0.1, p.size) + 0.2 * np.sin(w / 3))
    quantity[7] = 5000.0  # one product-week far out
    # Some product-weeks have no sales, so the two-way demeaning needs its repeated rounds.
    kept = (rng.random(p.size) > 0.2) | (np.arange(p.size) == 7)
    kept &= (p != 23) | (w < 5)  # too few weeks for a slope of its own
    return pl.DataFrame(
        {
            "product_id": [f"P{i:02d}" for i in p],
            "category": [f"c{i % 3}" for i in p],
            "period": [date(2024, 1, 1) + timedelta(weeks=int(i)) for i in w],
            "avg_price": price,
            "quantity": quantity,
            "revenue": price * quantity,
        }
    ).filter(pl.Series(kept))


def _pandas_days(daily: pl.DataFrame) -> pd.DataFrame:
    frame = daily.rename({"date": "day"}).to_pandas()
    frame["day"] = pd.to_datetime(frame["day"])
    return frame


def test_the_forecast_and_its_backtest_match_the_pipelines(daily):
    expected = forecast(fit_seasonal(daily), date(2025, 12, 31), 90)
    mape, _ = backtest_mape(daily, holdout_days=60)
    got = baseline.revenue_forecast(_pandas_days(daily))
    for col in ("forecast", "lower_80", "upper_80", "lower_95", "upper_95"):
        np.testing.assert_allclose(got[col], expected[col], rtol=1e-9)
    assert got["day"].iloc[0] == pd.Timestamp(2025, 12, 31)
    assert got.attrs["backtest_mape"] == pytest.approx(mape, rel=1e-9)


def test_elasticities_match_the_pipelines(weekly):
    products, categories = elasticities(weekly)
    got_products, got_categories = baseline.elasticities(weekly.to_pandas())
    got_products = got_products.sort_values("product_id", ignore_index=True)
    products = products.sort("product_id")
    assert got_products["product_id"].tolist() == products["product_id"].to_list()
    assert "P23" not in got_products["product_id"].tolist()
    got_categories = got_categories.sort_values("category", ignore_index=True)
    assert got_categories["category"].tolist() == categories["category"].to_list()
    for got, want in ((got_products, products), (got_categories, categories)):
        for col in ("elasticity", "std_error", "ci_low", "ci_high", "expected_revenue_change"):
            np.testing.assert_allclose(got[col], want[col], rtol=1e-6, err_msg=col)
        np.testing.assert_array_equal(got["best_price_change"], want["best_price_change"])


def test_day_and_product_anomalies_match_the_pipelines(daily, weekly):
    profiles = pd.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(300)],
            "account_created_date": pd.Timestamp(2023, 1, 1),
            "order_count": np.arange(300) % 7,
            "total_value": (np.arange(300) % 11) * 50.0,
            "tickets": np.arange(300) % 3,
            "events": np.arange(300) % 13,
            "features": np.arange(300) % 4,
        }
    )
    got = baseline.anomalies(
        _pandas_days(daily), weekly.to_pandas(), profiles, pd.Timestamp(2026, 1, 1)
    )
    days = residual_anomalies(daily, fit_seasonal(daily))
    got_days = got[got["entity_type"] == "day"]
    assert got_days["entity_id"].tolist() == [str(d) for d in days["date"].to_list()]
    assert {"2024-04-10", "2025-02-04", "2025-10-12"} <= set(got_days["entity_id"])
    np.testing.assert_allclose(got_days["score"], days["robust_z"].abs(), rtol=1e-9)
    products = product_anomalies(weekly)
    got_products = got[got["entity_type"] == "product"]
    assert got_products["entity_id"].tolist() == products["entity_id"].to_list() == ["P00"]
    np.testing.assert_allclose(got_products["score"], products["score"], rtol=1e-9)
    assert (got["entity_type"] == "customer").sum() == 3  # 1% of 300
