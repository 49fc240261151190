"""Enrichment wiring: enriched orders, the customer 360, daily revenue, product daily sales."""

import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.publish import publish_table, row_count
from assets.core.frames import aggregate_in_key_ranges, combine_in_key_ranges
from assets.enrichment.logic import (
    PROFILE_INPUTS,
    active_customers_by_day,
    completed_sales,
    customer_profiles,
    daily_revenue,
    enriched_orders,
    product_day_totals,
    sum_by_day,
)
from resources import LakeResource, WarehouseResource

GROUP = "enrichment"
VALIDATION = "validation"
KINDS = {"polars", "duckdb", "parquet"}
OWNER = ["team:analytics-engineering"]
# Rows per streaming morsel while writing enriched_orders (Polars' own default is larger).
WIDE_SINK_MORSEL_ROWS = 25_000


def latest_activity_date(lake: LakeResource):
    """The last day with any order, ticket or usage event: "today" for the data."""
    stamps = [
        lake.scan(VALIDATION, "validated_orders").select(pl.col("order_ts").max()),
        lake.scan(VALIDATION, "validated_support_tickets").select(
            pl.col("opened_ts").max().alias("order_ts")
        ),
        lake.scan(VALIDATION, "validated_usage_events").select(
            pl.col("event_ts").max().alias("order_ts")
        ),
    ]
    latest = pl.concat(stamps).select(pl.col("order_ts").max()).collect().item()
    if latest is None:
        raise dg.Failure(
            "No orders, tickets or usage events are valid yet: nothing to enrich.",
            allow_retries=False,
        )
    return latest.date()


@dg.asset(
    name="enriched_orders",
    group_name=GROUP,
    deps=["validated_orders", "validated_products", "validated_customers"],
    kinds=KINDS,
    owners=OWNER,
    description="Valid orders joined to products and customers, with revenue, margin, discount, "
    "time parts (hour to quarter, weekend, season by hemisphere) and geography.",
)
def enriched_orders_asset(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    frame = enriched_orders(
        lake.scan(VALIDATION, "validated_orders"),
        lake.scan(VALIDATION, "validated_products"),
        lake.scan(VALIDATION, "validated_customers"),
    )
    rows_in = row_count(lake, VALIDATION, "validated_orders")
    # Smaller morsels for this wide join: at 10M orders the step peaked at 1,576 MB with Polars'
    # default and 865 MB with 25k rows, ~1 s slower (benchmarks/README.md, fix 32).
    with pl.Config(streaming_chunk_size=WIDE_SINK_MORSEL_ROWS):
        meta = publish_table(
            lake, warehouse, GROUP, "enriched_orders", frame, rows_in=rows_in, started=started
        )
    totals = (
        lake.scan(GROUP, "enriched_orders")
        .select(pl.col("revenue").sum(), pl.col("margin").sum())
        .collect()
        .row(0)
    )
    meta["total_revenue"] = dg.MetadataValue.float(round(float(totals[0] or 0), 2))
    meta["total_margin"] = dg.MetadataValue.float(round(float(totals[1] or 0), 2))
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="customer_profiles",
    group_name=GROUP,
    deps=[
        "validated_customers",
        "enriched_orders",
        "validated_support_tickets",
        "validated_usage_events",
    ],
    kinds=KINDS,
    owners=OWNER,
    description="Customer 360: one row per customer with last activity, tenure, orders, value, "
    "average order value, support tickets and feature usage, as of the latest data.",
)
def customer_profiles_asset(
    lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    as_of = latest_activity_date(lake)
    tables = {
        "customers": lake.scan(VALIDATION, "validated_customers").select(
            PROFILE_INPUTS["customers"]
        ),
        "orders": lake.scan(GROUP, "enriched_orders").select(PROFILE_INPUTS["orders"]),
        "tickets": lake.scan(VALIDATION, "validated_support_tickets").select(
            PROFILE_INPUTS["tickets"]
        ),
        "events": lake.scan(VALIDATION, "validated_usage_events").select(PROFILE_INPUTS["events"]),
    }
    rows_in = row_count(lake, VALIDATION, "validated_customers")
    # One range of customers at a time, with their orders, tickets and events: the per-customer
    # aggregations and joins hold a range's customers, not all of them.
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = combine_in_key_ranges(
            tables,
            "customer_id",
            lambda t: customer_profiles(
                t["customers"], t["orders"], t["tickets"], t["events"], as_of
            ),
            Path(tmp),
        )
        meta = publish_table(
            lake, warehouse, GROUP, "customer_profiles", frame, rows_in=rows_in, started=started
        )
    meta["as_of_date"] = as_of.isoformat()
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="daily_revenue",
    group_name=GROUP,
    deps=["enriched_orders", "validated_customers"],
    kinds=KINDS,
    owners=OWNER,
    description="One row per calendar day: revenue and margin (completed orders), orders, "
    "active customers and new customers; days with no orders are zeros, not gaps.",
)
def daily_revenue_asset(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    started = time.perf_counter()
    orders = lake.scan(GROUP, "enriched_orders")
    rows_in = row_count(lake, GROUP, "enriched_orders")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        # Distinct customers per day, one range of customers at a time (each customer's days
        # are counted in one range), so the distinct sets stay the size of a range.
        active = aggregate_in_key_ranges(
            orders.select("order_date", "customer_id"),
            "customer_id",
            active_customers_by_day,
            Path(tmp),
        ).pipe(sum_by_day)
        frame = daily_revenue(orders, lake.scan(VALIDATION, "validated_customers"), active)
        meta = publish_table(
            lake, warehouse, GROUP, "daily_revenue", frame, rows_in=rows_in, started=started
        )
    last = (
        lake.scan(GROUP, "daily_revenue").select(pl.col("revenue").tail(30).mean()).collect().item()
    )
    meta["revenue_last_30d_daily_mean"] = dg.MetadataValue.float(round(float(last or 0), 2))
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="product_daily_sales",
    group_name=GROUP,
    deps=["enriched_orders"],
    kinds=KINDS,
    owners=OWNER,
    description="Product x day from completed orders: quantity, quantity-weighted average price, "
    "revenue and order count.",
)
def product_daily_sales_asset(
    lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    started = time.perf_counter()
    rows_in = row_count(lake, GROUP, "enriched_orders")
    # One range of products at a time: memory follows a range's orders, not the table's.
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = aggregate_in_key_ranges(
            completed_sales(lake.scan(GROUP, "enriched_orders")),
            "product_id",
            product_day_totals,
            Path(tmp),
        )
        meta = publish_table(
            lake, warehouse, GROUP, "product_daily_sales", frame, rows_in=rows_in, started=started
        )
    return dg.MaterializeResult(metadata=meta)


ENRICHMENT_ASSETS = [
    enriched_orders_asset,
    customer_profiles_asset,
    daily_revenue_asset,
    product_daily_sales_asset,
]
