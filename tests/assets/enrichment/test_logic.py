"""Enrichment formulas against values worked out by hand."""

import itertools
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.core import frames
from assets.core.frames import aggregate_in_key_ranges, combine_in_key_ranges, key_range_bounds
from assets.enrichment.logic import (
    active_customers_by_day,
    active_customers_by_range,
    completed_sales,
    customer_profiles,
    customer_profiles_by_range,
    daily_revenue,
    enriched_orders,
    latest_activity,
    product_daily_sales,
    product_daily_sales_by_range,
    product_day_totals,
    sum_by_day,
)

CUSTOMERS = pl.LazyFrame(
    {
        "customer_id": ["C1", "C2"],
        "country": ["Germany", "Australia"],
        "region": ["Bavaria", "Victoria"],
        "plan_type": ["pro", "free"],
        "account_created_date": [date(2024, 1, 1), date(2024, 1, 3)],
    }
)
PRODUCTS = pl.LazyFrame(
    {
        "product_id": ["P1"],
        "category": ["home"],
        "brand": ["Acme"],
        "list_price": [10.0],
        "unit_cost": [4.0],
    }
)
ORDERS = pl.LazyFrame(
    {
        "order_id": ["O1", "O2", "O3", "O4"],
        "customer_id": ["C1", "C2", "C1", "C9"],
        "product_id": ["P1", "P1", "P1", "P1"],
        "quantity": [2, 1, 3, 1],
        "unit_price": [10.0, 12.0, 8.0, 10.0],
        "discount": [0.1, None, 0.0, 0.0],
        "order_ts": [
            datetime(2024, 1, 6, 9),
            datetime(2024, 7, 1, 23),
            datetime(2024, 1, 8, 12),
            datetime(2024, 1, 8, 1),
        ],
        "channel": ["web"] * 4,
        "status": ["completed", "completed", "returned", "completed"],
    }
)


def test_money_time_parts_and_season_by_hemisphere():
    e = enriched_orders(ORDERS, PRODUCTS, CUSTOMERS).collect().sort("order_id")
    o1, o2, o3, o4 = e.iter_rows(named=True)
    assert o1["gross_amount"] == 20.0 and o1["discount_amount"] == pytest.approx(2.0)
    assert o1["revenue"] == pytest.approx(18.0) and o1["margin"] == pytest.approx(18.0 - 8.0)
    assert (o1["day_of_week"], o1["is_weekend"], o1["hour"], o1["quarter"]) == (6, True, 9, 1)
    assert o1["season"] == "winter" and o1["world_region"] == "Western Europe"
    assert o2["season"] == "winter" and o2["hemisphere"] == "south"  # July in Australia
    assert o2["revenue"] == 12.0  # a missing discount is no discount
    assert o3["revenue"] == 0.0 and o3["margin"] == 0.0  # returned lines earn nothing
    assert o4["country"] is None and o4["revenue"] == 10.0  # kept although its customer is unknown


def test_customer_profile_takes_the_latest_of_orders_tickets_and_events():
    e = enriched_orders(ORDERS, PRODUCTS, CUSTOMERS)
    tickets = pl.LazyFrame({"customer_id": ["C1"], "opened_ts": [datetime(2024, 2, 1)]})
    events = pl.LazyFrame(
        {
            "customer_id": ["C1", "C1", "C2"],
            "event_ts": [datetime(2024, 1, 20), datetime(2024, 3, 5), datetime(2024, 1, 4)],
            "feature": ["api", "api", "search"],
        }
    )
    p = (
        customer_profiles(CUSTOMERS, e, tickets, events, as_of=date(2024, 2, 15))
        .collect()
        .sort("customer_id")
    )
    c1 = p.row(0, named=True)
    assert c1["last_activity_date"] == date(2024, 2, 1)  # the March event is after as_of
    assert c1["order_count"] == 2 and c1["total_value"] == pytest.approx(18.0)
    assert c1["avg_order_value"] == pytest.approx(9.0)
    assert (
        c1["support_ticket_count"],
        c1["feature_usage_count"],
        c1["distinct_features_used"],
    ) == (1, 1, 1)
    assert c1["tenure_days"] == 45


def test_daily_revenue_fills_gaps_and_counts_new_customers():
    e = enriched_orders(ORDERS, PRODUCTS, CUSTOMERS)
    d = daily_revenue(e, CUSTOMERS).collect()
    assert (
        d["date"].min() == date(2024, 1, 6)
        and d.height == (date(2024, 7, 1) - date(2024, 1, 6)).days + 1
    )
    jan8 = d.filter(pl.col("date") == date(2024, 1, 8)).row(0, named=True)
    assert jan8["revenue"] == 10.0 and jan8["orders"] == 1 and jan8["active_customers"] == 2
    assert d.filter(pl.col("date") == date(2024, 1, 7))["revenue"].item() == 0


def test_product_daily_sales_weights_price_by_quantity():
    orders = ORDERS.with_columns(
        pl.lit("completed").alias("status"), pl.lit(datetime(2024, 1, 6)).alias("order_ts")
    )
    s = product_daily_sales(enriched_orders(orders, PRODUCTS, CUSTOMERS)).collect()
    assert s["quantity"].item() == 7
    assert s["avg_price"].item() == pytest.approx((20 + 12 + 24 + 10) / 7)


def _sales(n: int, seed: int) -> pl.LazyFrame:
    """``n`` completed sales over 40 products (one with a null id) and 30 days."""
    rng = np.random.default_rng(seed)
    products = [f"P{i:03d}" for i in range(40)] + [None]
    return pl.LazyFrame(
        {
            "product_id": [products[i] for i in rng.integers(0, len(products), n)],
            "order_date": [date(2024, 1, 1 + int(d)) for d in rng.integers(0, 30, n)],
            "quantity": rng.integers(1, 5, n),
            "unit_price": rng.uniform(5, 50, n).round(2),
        }
    ).with_columns(
        pl.lit("completed").alias("status"),
        pl.col("product_id").str.slice(0, 2).alias("category"),
        (pl.col("quantity") * pl.col("unit_price")).alias("revenue"),
    )


@pytest.mark.parametrize("range_rows", [250, 1_000, 1_000_000])
def test_product_day_totals_by_key_range_equal_the_whole(tmp_path, range_rows):
    orders = _sales(2_000, seed=range_rows)
    whole = product_daily_sales(orders).collect()
    ranged = aggregate_in_key_ranges(
        completed_sales(orders), "product_id", product_day_totals, tmp_path, range_rows=range_rows
    ).collect()
    assert_frame_equal(ranged, whole)
    parts = sorted(tmp_path.glob("combined-*.parquet"))
    assert len(parts) == (0 if range_rows > 2_000 else -(-2_000 // range_rows))
    # Each range holds whole products: no product appears in two ranges' results.
    seen = [set(pl.read_parquet(p)["product_id"].to_list()) for p in parts]
    assert sum(map(len, seen)) == len(set().union(*seen))


def test_key_range_bounds_split_distinct_keys_evenly():
    keys = pl.Series(["b", "a", "c", "a", None, "d", "b", "e", "f"])
    assert key_range_bounds(keys, 3) == ["c", "e"]
    assert key_range_bounds(keys, 1) == []
    assert key_range_bounds(pl.Series(["a"]), 4) == []


@pytest.mark.parametrize("range_rows", [300, 1_000_000])
def test_daily_active_customers_by_customer_range_equal_the_whole(tmp_path, range_rows):
    rng = np.random.default_rng(3)
    n = 1_500
    orders = pl.LazyFrame(
        {
            "customer_id": [f"C{i:03d}" for i in rng.integers(0, 120, n)],
            "order_date": [date(2024, 1, 1 + int(d)) for d in rng.integers(0, 20, n)],
            "revenue": rng.uniform(1, 9, n),
            "margin": rng.uniform(0, 2, n),
            "status": ["completed"] * n,
        }
    )
    whole = daily_revenue(orders, CUSTOMERS).collect()
    active = aggregate_in_key_ranges(
        orders.select("order_date", "customer_id"),
        "customer_id",
        active_customers_by_day,
        tmp_path,
        range_rows=range_rows,
    ).pipe(sum_by_day)
    assert_frame_equal(daily_revenue(orders, CUSTOMERS, active).collect(), whole)
    assert (whole["active_customers"] > 1).any()


def _activity(n: int, customers: int, seed: int, ts: str, **extra) -> pl.LazyFrame:
    """``n`` rows for customer ids C000..C(customers+9), ten of them unknown customers."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "us")
    return pl.LazyFrame(
        {
            "customer_id": [f"C{i:03d}" for i in rng.integers(0, customers + 10, n)],
            ts: start + rng.integers(0, 90 * 86_400, n).astype("timedelta64[s]"),
            **{k: v(rng, n) for k, v in extra.items()},
        }
    )


@pytest.mark.parametrize("range_rows", [200, 700, 1_000_000])
def test_customer_profiles_by_customer_range_equal_the_whole(tmp_path, range_rows):
    k = 150
    rng = np.random.default_rng(range_rows)
    customers = pl.LazyFrame(
        {
            "customer_id": [f"C{i:03d}" for i in range(k)],
            "country": rng.choice(["Germany", "Australia", "Brazil"], k).tolist(),
            "region": ["r"] * k,
            "plan_type": rng.choice(["free", "pro"], k).tolist(),
            "account_created_date": [
                date(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 80, k)
            ],
        }
    )
    tables = {
        "customers": customers,
        "orders": _activity(
            2_000, k, 1, "order_ts", revenue=lambda r, n: r.uniform(0, 50, n).round(2)
        ),
        "tickets": _activity(300, k, 2, "opened_ts"),
        "events": _activity(
            1_500, k, 3, "event_ts", feature=lambda r, n: r.choice(["api", "search"], n).tolist()
        ),
    }
    as_of = date(2024, 3, 1)

    def profiles(t: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        return customer_profiles(t["customers"], t["orders"], t["tickets"], t["events"], as_of)

    whole = profiles(tables).collect().sort("customer_id")
    ranged = combine_in_key_ranges(
        tables, "customer_id", profiles, tmp_path, range_rows=range_rows
    ).collect()
    assert_frame_equal(ranged.sort("customer_id"), whole)
    assert whole["order_count"].sum() < 2_000  # some orders are after as_of or for unknowns
    parts = sorted(tmp_path.glob("combined-*.parquet"))
    assert len(parts) == (0 if range_rows > 2_000 else -(-2_000 // range_rows))
    # The ranges are in key order, each with whole customers.
    spans = [pl.read_parquet(p)["customer_id"] for p in parts]
    assert all(a.max() < b.min() for a, b in itertools.pairwise(spans))


@pytest.mark.parametrize("min_per_range", [2, 10_000])
def test_ranges_cut_from_a_sample_of_the_keys_equal_the_whole(tmp_path, monkeypatch, min_per_range):
    """With many keys the bounds come from a hash sample of them (or, when the sample is too
    thin for even ranges, from all of them); either way the result is the whole table's."""
    monkeypatch.setattr(frames, "KEY_SAMPLE_ROWS", 1_000)
    monkeypatch.setattr(frames, "MIN_SAMPLED_KEYS_PER_RANGE", min_per_range)
    orders = _sales(3_000, seed=11)
    sample = frames._key_sample(completed_sales(orders), "product_id", 3_000, 4)
    distinct = completed_sales(orders).select(pl.col("product_id").n_unique()).collect().item()
    assert (sample.len() < distinct) == (min_per_range == 2)
    ranged = aggregate_in_key_ranges(
        completed_sales(orders), "product_id", product_day_totals, tmp_path, range_rows=800
    ).collect()
    assert_frame_equal(ranged, product_daily_sales(orders).collect())
    assert len(list(tmp_path.glob("combined-*.parquet"))) >= 2


def test_a_repeated_customer_or_product_does_not_multiply_orders():
    """Enrichment keeps one order per order even when a lookup repeats its key: the first
    row wins, and a lookup with distinct keys is used as it is."""
    repeated = pl.concat([CUSTOMERS, CUSTOMERS.with_columns(pl.lit("Brazil").alias("country"))])
    e = enriched_orders(ORDERS, pl.concat([PRODUCTS, PRODUCTS]), repeated).collect()
    assert e.height == 4 and e["order_id"].n_unique() == 4
    assert e.filter(pl.col("customer_id") == "C1")["country"].to_list() == ["Germany"] * 2
    assert frames.unique_on(CUSTOMERS, "customer_id") is CUSTOMERS
    nulls = pl.LazyFrame({"k": [None, None, "a"], "v": [1, 2, 3]})
    assert frames.unique_on(nulls, "k").collect().sort("v")["v"].to_list() == [1, 3]


def test_latest_activity_is_the_last_day_of_any_order_ticket_or_event():
    orders = pl.LazyFrame({"order_ts": [datetime(2024, 3, 1, 8), datetime(2024, 3, 4, 23)]})
    tickets = pl.LazyFrame({"opened_ts": [datetime(2024, 3, 2)]})
    events = pl.LazyFrame({"event_ts": [datetime(2024, 2, 1), datetime(2024, 3, 5, 0, 30), None]})
    assert latest_activity(orders, tickets, events) == date(2024, 3, 5)
    assert latest_activity(orders, tickets, events.clear()) == date(2024, 3, 4)
    assert latest_activity(orders.clear(), tickets, events.clear()) == date(2024, 3, 2)
    assert latest_activity(orders.clear(), tickets.clear(), events.clear()) is None


def test_the_range_wise_enrichment_tables_equal_the_whole(tmp_path):
    """What the assets publish, one range of keys at a time, is the table on the whole."""
    orders = _sales(2_000, seed=4).with_columns(
        pl.col("order_date").cast(pl.Datetime("us")).alias("order_ts"),
        pl.lit(0.0).alias("margin"),
    )
    assert_frame_equal(
        product_daily_sales_by_range(orders, tmp_path).collect(),
        product_daily_sales(orders).collect(),
    )
    by_customer = orders.rename({"product_id": "customer_id"})
    active = active_customers_by_range(by_customer, tmp_path)
    assert_frame_equal(
        daily_revenue(by_customer, CUSTOMERS, active).collect(),
        daily_revenue(by_customer, CUSTOMERS).collect(),
    )
    tables = {
        "customers": CUSTOMERS,
        "orders": enriched_orders(ORDERS, PRODUCTS, CUSTOMERS),
        "tickets": pl.LazyFrame({"customer_id": ["C2"], "opened_ts": [datetime(2024, 1, 9)]}),
        "events": pl.LazyFrame(
            {"customer_id": ["C1"], "event_ts": [datetime(2024, 1, 9)], "feature": ["api"]}
        ),
    }
    as_of = date(2024, 1, 10)
    profiles = customer_profiles(*tables.values(), as_of).collect().sort("customer_id")
    ranged = customer_profiles_by_range(tables, as_of, tmp_path).collect().sort("customer_id")
    assert_frame_equal(ranged, profiles)
    assert ranged["order_count"].to_list() == [2, 0]
