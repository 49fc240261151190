"""Enrichment logic: plain functions over Polars LazyFrames, no Dagster.

Money: ``gross_amount = quantity x unit_price``, ``discount_amount = gross_amount x discount``;
``revenue`` and ``margin`` count completed orders only (returned and cancelled lines carry 0), so
every later stage sums the same definition.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from assets.core.frames import (
    aggregate_in_key_ranges,
    combine_in_key_ranges,
    join_lookup,
    unique_on,
)

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "core" / "reference"
# Seasons in order from December-February; the southern hemisphere is two seasons ahead.
SEASONS = ("winter", "spring", "summer", "autumn")


def geography() -> pl.LazyFrame:
    """The versioned country reference (assets/core/reference/countries.csv)."""
    return pl.scan_csv(REFERENCE_DIR / "countries.csv").select(
        "country", "world_region", "country_group", "hemisphere"
    )


def _season(month: pl.Expr, hemisphere: pl.Expr) -> pl.Expr:
    """The meteorological season of ``month`` (1-12) in ``hemisphere``.

    Arithmetic and ``when``/``then``, not ``replace_strict``: in Polars 2.1 ``replace_strict``
    stops the streaming engine, and enriching 10M orders held them all in memory (3.5 GB).
    """
    north = (month % 12) // 3
    index = pl.when(hemisphere == "south").then((north + 2) % 4).otherwise(north)
    season = pl.when(index == 0).then(pl.lit(SEASONS[0]))
    for i, name in enumerate(SEASONS[1:], start=1):
        season = season.when(index == i).then(pl.lit(name))
    return season.otherwise(None)


def enriched_orders(
    orders: pl.LazyFrame, products: pl.LazyFrame, customers: pl.LazyFrame
) -> pl.LazyFrame:
    """Orders with product and customer attributes, money, time parts and geography."""
    prod = products.select("product_id", "category", "brand", "list_price", "unit_cost")
    cust = unique_on(
        customers.select("customer_id", "country", "region", "plan_type", "account_created_date"),
        "customer_id",
    ).join(geography(), on="country", how="left")
    # The customer lookup is the join's hash table, one row per customer. Its repeated labels
    # are held as categories (a few bytes a row, not a string each) and are strings again after
    # the join: at xl (2.5M customers) the step held ~200 MB less.
    labels = [c for c, t in cust.collect_schema().items() if t == pl.String and c != "customer_id"]
    completed = pl.col("status") == "completed"
    gross = pl.col("quantity") * pl.col("unit_price")
    ts = pl.col("order_ts")
    return (
        orders.select(
            "order_id",
            "customer_id",
            "product_id",
            "quantity",
            "unit_price",
            pl.col("discount").fill_null(0.0),
            "order_ts",
            "channel",
            "status",
        )
        .pipe(join_lookup, unique_on(prod, "product_id"), "product_id")
        .pipe(
            join_lookup,
            cust.with_columns(pl.col(labels).cast(pl.Categorical)),
            "customer_id",
        )
        .with_columns(pl.col(labels).cast(pl.String))
        .with_columns(
            gross.alias("gross_amount"),
            (gross * pl.col("discount")).alias("discount_amount"),
            pl.when(completed)
            .then(gross * (1 - pl.col("discount")))
            .otherwise(0.0)
            .alias("revenue"),
            pl.when(completed)
            .then(gross * (1 - pl.col("discount")) - pl.col("quantity") * pl.col("unit_cost"))
            .otherwise(0.0)
            .alias("margin"),
            ts.dt.date().alias("order_date"),
            ts.dt.hour().alias("hour"),
            ts.dt.weekday().alias("day_of_week"),
            ts.dt.week().alias("week"),
            ts.dt.month().alias("month"),
            ts.dt.quarter().alias("quarter"),
            (ts.dt.weekday() >= 6).alias("is_weekend"),
            _season(ts.dt.month(), pl.col("hemisphere")).alias("season"),
        )
    )


def latest_activity(
    orders: pl.LazyFrame, tickets: pl.LazyFrame, events: pl.LazyFrame
) -> date | None:
    """The last day with any order, ticket or usage event: "today" for the data (None when
    there is none)."""
    stamps = [
        orders.select(pl.col("order_ts").max().alias("ts")),
        tickets.select(pl.col("opened_ts").max().alias("ts")),
        events.select(pl.col("event_ts").max().alias("ts")),
    ]
    latest = pl.concat(stamps).select(pl.col("ts").max()).collect().item()
    return None if latest is None else latest.date()


def _last(frame: pl.LazyFrame, ts: str, name: str) -> pl.LazyFrame:
    return frame.group_by("customer_id").agg(pl.col(ts).max().dt.date().alias(name))


# The columns ``customer_profiles`` reads from each activity table.
PROFILE_INPUTS = {
    "customers": ["customer_id", "country", "region", "plan_type", "account_created_date"],
    "orders": ["customer_id", "order_ts", "revenue"],
    "tickets": ["customer_id", "opened_ts"],
    "events": ["customer_id", "event_ts", "feature"],
}


def customer_profiles(
    customers: pl.LazyFrame,
    orders: pl.LazyFrame,
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    as_of: date,
) -> pl.LazyFrame:
    """One row per customer: activity, tenure, value, support and usage as of ``as_of``.

    ``orders`` is ``enriched_orders``; only activity on or before ``as_of`` counts.
    """
    cutoff = pl.lit(as_of).cast(pl.Datetime("us")) + pl.duration(days=1)
    o = orders.filter(pl.col("order_ts") < cutoff)
    t = tickets.filter(pl.col("opened_ts") < cutoff)
    e = events.filter(pl.col("event_ts") < cutoff)
    order_stats = o.group_by("customer_id").agg(
        pl.len().alias("order_count"),
        pl.col("revenue").sum().alias("total_value"),
        pl.col("order_ts").max().dt.date().alias("last_order_date"),
    )
    ticket_stats = t.group_by("customer_id").agg(
        pl.len().alias("support_ticket_count"),
        pl.col("opened_ts").max().dt.date().alias("last_ticket_date"),
    )
    usage_stats = e.group_by("customer_id").agg(
        pl.len().alias("feature_usage_count"),
        pl.col("feature").n_unique().alias("distinct_features_used"),
        pl.col("event_ts").max().dt.date().alias("last_event_date"),
    )
    zero = [
        "order_count",
        "total_value",
        "support_ticket_count",
        "feature_usage_count",
        "distinct_features_used",
    ]
    return (
        customers.filter(pl.col("account_created_date") <= as_of)
        .select("customer_id", "country", "region", "plan_type", "account_created_date")
        .join(geography(), on="country", how="left")
        .join(order_stats, on="customer_id", how="left")
        .join(ticket_stats, on="customer_id", how="left")
        .join(usage_stats, on="customer_id", how="left")
        .with_columns(pl.col(c).fill_null(0) for c in zero)
        .with_columns(
            pl.max_horizontal("last_order_date", "last_ticket_date", "last_event_date").alias(
                "last_activity_date"
            ),
            (pl.lit(as_of) - pl.col("account_created_date")).dt.total_days().alias("tenure_days"),
            pl.when(pl.col("order_count") > 0)
            .then(pl.col("total_value") / pl.col("order_count"))
            .otherwise(0.0)
            .alias("avg_order_value"),
            pl.lit(as_of).alias("as_of_date"),
        )
        .drop("last_order_date", "last_ticket_date", "last_event_date")
    )


def customer_profiles_by_range(
    tables: dict[str, pl.LazyFrame], as_of: date, scratch: Path
) -> pl.LazyFrame:
    """``customer_profiles`` of ``tables`` (keyed as ``PROFILE_INPUTS``), one range of customers
    at a time with their orders, tickets and events: the per-customer aggregations and joins
    hold a range's customers, not all of them."""
    inputs = {name: tables[name].select(columns) for name, columns in PROFILE_INPUTS.items()}
    return combine_in_key_ranges(
        inputs,
        "customer_id",
        lambda t: customer_profiles(t["customers"], t["orders"], t["tickets"], t["events"], as_of),
        scratch,
    )


def active_customers_by_day(orders: pl.LazyFrame) -> pl.LazyFrame:
    """Distinct customers ordering on each day (``order_date``, ``active_customers``)."""
    return orders.group_by("order_date").agg(
        pl.col("customer_id").n_unique().alias("active_customers")
    )


def sum_by_day(partial: pl.LazyFrame) -> pl.LazyFrame:
    """Per-day counts of distinct customers from disjoint sets of customers, added up."""
    return partial.group_by("order_date").agg(
        pl.col("active_customers").sum().cast(pl.UInt32).alias("active_customers")
    )


def active_customers_by_range(orders: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    """``active_customers_by_day`` one range of customers at a time (each customer's days are
    counted in one range), so the distinct sets stay the size of a range."""
    return aggregate_in_key_ranges(
        orders.select("order_date", "customer_id"), "customer_id", active_customers_by_day, scratch
    ).pipe(sum_by_day)


def daily_revenue(
    orders: pl.LazyFrame, customers: pl.LazyFrame, active: pl.LazyFrame | None = None
) -> pl.LazyFrame:
    """One row per calendar day (gaps are zeros): revenue, orders, active and new customers.

    ``active``: ``active_customers_by_day`` of ``orders`` when computed elsewhere (in ranges of
    customers, to bound its memory); by default it is computed here.
    """
    per_day = orders.group_by("order_date").agg(
        pl.col("revenue").sum().alias("revenue"),
        pl.col("margin").sum().alias("margin"),
        (pl.col("status") == "completed").sum().alias("orders"),
    )
    if active is None:
        active = active_customers_by_day(orders)
    new = customers.group_by(pl.col("account_created_date").alias("order_date")).agg(
        pl.len().alias("new_customers")
    )
    bounds = orders.select(
        pl.col("order_date").min().alias("lo"), pl.col("order_date").max().alias("hi")
    )
    calendar = bounds.select(pl.date_ranges("lo", "hi").explode().alias("order_date"))
    return (
        calendar.join(per_day, on="order_date", how="left")
        .join(active, on="order_date", how="left")
        .join(new, on="order_date", how="left")
        .with_columns(
            pl.col(c).fill_null(0)
            for c in ("revenue", "margin", "orders", "active_customers", "new_customers")
        )
        .rename({"order_date": "date"})
        .sort("date")
    )


def completed_sales(orders: pl.LazyFrame) -> pl.LazyFrame:
    """The completed orders, with only the columns ``product_day_totals`` reads."""
    return orders.filter(pl.col("status") == "completed").select(
        "product_id", "category", "order_date", "quantity", "unit_price", "revenue"
    )


def product_day_totals(sales: pl.LazyFrame) -> pl.LazyFrame:
    """Product x day of ``completed_sales``, sorted by product then day."""
    return (
        sales.group_by("product_id", "category", pl.col("order_date").alias("date"))
        .agg(
            pl.col("quantity").sum().alias("quantity"),
            ((pl.col("unit_price") * pl.col("quantity")).sum() / pl.col("quantity").sum()).alias(
                "avg_price"
            ),
            pl.col("revenue").sum().alias("revenue"),
            pl.len().alias("orders"),
        )
        .sort("product_id", "date")
    )


def product_daily_sales(orders: pl.LazyFrame) -> pl.LazyFrame:
    """Product x day: quantity, quantity-weighted average price, revenue (completed orders)."""
    return product_day_totals(completed_sales(orders))


def product_daily_sales_by_range(orders: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    """``product_daily_sales`` one range of products at a time: memory follows a range's
    orders, not the table's."""
    return aggregate_in_key_ranges(
        completed_sales(orders), "product_id", product_day_totals, scratch
    )
