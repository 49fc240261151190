"""Feature formulas by hand, no leakage past the cutoff, and churn signal on generated data."""

import math
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.core.frames import aggregate_in_key_ranges, combine_in_key_ranges
from assets.enrichment.logic import enriched_orders
from assets.features.blueprints import (
    CHURN,
    BlueprintError,
    churn_activity,
    churn_features,
    churn_scores,
    compatibility,
    price_by_product,
    price_features,
    price_positions,
    revenue_features,
    roc_auc,
)
from assets.generator import GeneratorConfig, generate_dataset

CUT = date(2024, 3, 31)
CUSTOMERS = pl.LazyFrame(
    {
        "customer_id": ["A", "B", "C"],
        "plan_type": ["enterprise", "free", "pro"],
        "account_created_date": [date(2024, 1, 1), date(2024, 3, 2), date(2024, 5, 1)],
    }
)
ORDERS = pl.LazyFrame(
    {
        "customer_id": ["A", "A", "B"],
        "order_ts": [datetime(2024, 3, 1), datetime(2024, 4, 10), datetime(2024, 3, 20)],
        "revenue": [91.0, 50.0, 10.0],
    }
)
TICKETS = pl.LazyFrame(
    {"customer_id": ["B", "B"], "opened_ts": [datetime(2024, 3, 25), datetime(2024, 3, 26)]}
)
EVENTS = pl.LazyFrame(
    {"customer_id": ["A", "A"], "event_ts": [datetime(2024, 3, 30), datetime(2024, 3, 31, 23)]}
)


def test_churn_feature_formulas_by_hand():
    f = (
        churn_features(CUSTOMERS, ORDERS, TICKETS, EVENTS, cutoff=CUT, horizon_days=60)
        .collect()
        .sort("customer_id")
    )
    a, b = f.row(0, named=True), f.row(1, named=True)
    assert f.height == 2  # C signed up after the cutoff
    assert a["account_tenure_days"] == 91 and a["days_since_last_activity"] == 0
    assert a["daily_value_rate"] == pytest.approx(91 / 91)  # the April order is after the cutoff
    assert a["feature_usage_rate"] == pytest.approx(2 / 91)
    assert a["activity_recency_score"] == pytest.approx(1.0)
    assert a["plan_value_score"] == 3 and a["value_tier"] == 3 and b["value_tier"] == 1
    assert b["support_intensity"] == pytest.approx(2 / (30 / 30.4375))
    assert b["days_since_last_activity"] == 5 and b["activity_recency_score"] == pytest.approx(
        math.exp(-5 / 30)
    )
    # A: 0.35*1 + 0.25*rank(usage)=1 + 0.15*(3-1)/3 + 0.10*1 + 0.15*(1-0)
    assert a["engagement_score"] == pytest.approx(0.35 + 0.25 + 0.10 + 0.10 + 0.15)
    assert (a["churned"], b["churned"]) == (False, True)


@pytest.mark.parametrize("horizon", [None, 60])
def test_no_feature_changes_when_data_after_the_cutoff_is_removed(horizon):
    end = datetime(2024, 4, 1)
    # Activity of every kind after the cutoff, inside the label's horizon and beyond it.
    tickets = pl.concat(
        [
            TICKETS,
            pl.LazyFrame(
                {
                    "customer_id": ["A", "B"],
                    "opened_ts": [datetime(2024, 4, 2), datetime(2024, 7, 1)],
                }
            ),
        ]
    )
    events = pl.concat(
        [
            EVENTS,
            pl.LazyFrame(
                {
                    "customer_id": ["B", "A"],
                    "event_ts": [datetime(2024, 4, 1), datetime(2024, 5, 1)],
                }
            ),
        ]
    )
    full = churn_features(
        CUSTOMERS, ORDERS, tickets, events, cutoff=CUT, horizon_days=horizon
    ).collect()
    trimmed = churn_features(
        CUSTOMERS,
        ORDERS.filter(pl.col("order_ts") < end),
        tickets.filter(pl.col("opened_ts") < end),
        events.filter(pl.col("event_ts") < end),
        cutoff=CUT,
        horizon_days=horizon,
    ).collect()
    assert full.drop("churned", strict=False).equals(trimmed.drop("churned", strict=False))
    if horizon is None:
        assert "churned" not in full.columns
    else:  # the later activity is what the label sees: B's April event keeps B
        assert full["churned"].to_list() == [False, False]
        assert trimmed["churned"].to_list() == [True, True]


def test_missing_required_field_names_it():
    with pytest.raises(BlueprintError, match=r"input 'orders' has no column\(s\) 'revenue'"):
        compatibility(
            CHURN,
            {
                "customers": CUSTOMERS,
                "orders": ORDERS.drop("revenue"),
                "support_tickets": TICKETS,
                "usage_events": EVENTS,
            },
        )


def test_revenue_features_by_hand():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(10)]
    f = revenue_features(
        pl.LazyFrame(
            {"date": days, "revenue": [float(i + 1) for i in range(10)], "orders": [1] * 10}
        )
    ).collect()
    assert f["ma_7"][6] == pytest.approx(4.0) and f["growth_1d"][1] == pytest.approx(1.0)
    assert f["growth_7d"][7] == pytest.approx(8 / 1 - 1) and f["growth_30d"].null_count() == 10


def test_price_features_index_and_elasticity_indicator():
    days = [date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]
    sales = pl.LazyFrame(
        {
            "product_id": ["P"] * 3,
            "category": ["home"] * 3,
            "date": days,
            "quantity": [10, 5, 10],
            "avg_price": [10.0, 12.0, 10.0],
            "revenue": [100.0, 60.0, 100.0],
        }
    )
    f = price_features(sales).collect().sort("period")
    assert f["price_index"].to_list() == pytest.approx([1.0, 1.2, 1.0])
    assert f["elasticity_indicator"][1] == pytest.approx(math.log(5 / 10) / math.log(12 / 10))
    assert f["demand_trend"][1] == pytest.approx(0.5)


def test_engagement_score_separates_churners_on_generated_data(tmp_path: Path):
    generate_dataset(tmp_path, GeneratorConfig(customers=4000, orders=40_000, seed=7))

    def scan(entity: str) -> pl.LazyFrame:
        return pl.scan_parquet(str(tmp_path / entity / "*.parquet"))

    customers, orders = scan("customers"), scan("orders")
    e = enriched_orders(orders, scan("products"), customers)
    last = e.select(pl.col("order_ts").max()).collect().item().date()
    f = churn_features(
        customers,
        e,
        scan("support_tickets"),
        scan("usage_events"),
        cutoff=last - timedelta(days=60),
        horizon_days=60,
    ).collect()
    auc = roc_auc(1 - f["engagement_score"], f["churned"])
    assert auc >= 0.75, auc


@pytest.mark.parametrize("horizon", [60, None])
def test_churn_features_by_customer_range_equal_the_whole(tmp_path: Path, horizon):
    """The assets compute each customer's activity one range of customers at a time and rank
    among all customers afterwards: the same rows as ``churn_features`` on the whole."""
    data = tmp_path / "data"
    generate_dataset(data, GeneratorConfig(customers=800, orders=8_000, seed=3))

    def scan(entity: str) -> pl.LazyFrame:
        return pl.scan_parquet(str(data / entity / "*.parquet"))

    customers = scan("customers")
    tables = {
        "customers": customers,
        "orders": enriched_orders(scan("orders"), scan("products"), customers),
        "support_tickets": scan("support_tickets"),
        "usage_events": scan("usage_events"),
    }
    cutoff = date(2024, 9, 1)

    def activity(t: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        inputs = (t["customers"], t["orders"], t["support_tickets"], t["usage_events"])
        return churn_activity(*inputs, cutoff=cutoff, horizon_days=horizon)

    ranged = combine_in_key_ranges(
        tables, "customer_id", activity, tmp_path / "scratch", range_rows=2_000
    )
    assert len(list((tmp_path / "scratch").glob("combined-*.parquet"))) >= 4
    whole = churn_features(*tables.values(), cutoff=cutoff, horizon_days=horizon).collect()
    assert_frame_equal(churn_scores(ranged, labelled=horizon is not None).collect(), whole)
    assert whole.height > 400


def test_price_features_by_product_range_equal_the_whole(tmp_path: Path):
    """The price asset computes each product's part one range of products at a time, then the
    positions within a category across all of them: the same rows as on the whole."""
    rng = np.random.default_rng(5)
    n = 3_000
    sales = pl.LazyFrame(
        {
            "product_id": [f"P{i:02d}" for i in rng.integers(0, 40, n)],
            "date": [date(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 120, n)],
            "quantity": rng.integers(1, 9, n),
            "avg_price": rng.uniform(5, 20, n).round(2),
        }
    ).with_columns(
        (pl.col("product_id").str.slice(2, 1).cast(pl.Int64) % 3).cast(pl.String).alias("category"),
        (pl.col("quantity") * pl.col("avg_price")).alias("revenue"),
    )
    sales = sales.group_by("product_id", "category", "date").agg(
        pl.col("quantity").sum(), pl.col("avg_price").mean(), pl.col("revenue").sum()
    )
    ranged = aggregate_in_key_ranges(
        sales, "product_id", price_by_product, tmp_path, range_rows=700
    )
    assert len(list(tmp_path.glob("combined-*.parquet"))) >= 3
    assert_frame_equal(price_positions(ranged).collect(), price_features(sales).collect())
