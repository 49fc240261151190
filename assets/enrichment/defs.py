"""Enrichment wiring: enriched orders, the customer 360, daily revenue, product daily sales."""

import tempfile
import time
from pathlib import Path

import dagster as dg
import polars as pl

from assets.common.inputs import Reads, Table
from assets.common.publish import publish_table, row_count
from assets.enrichment.logic import (
    active_customers_by_range,
    customer_profiles_by_range,
    daily_revenue,
    enriched_orders,
    latest_activity,
    product_daily_sales_by_range,
)
from resources import LakeResource, WarehouseResource

GROUP = "enrichment"
VALIDATION = "validation"
KINDS = {"polars", "duckdb", "parquet"}
OWNER = ["team:analytics-engineering"]
# Rows per streaming morsel while writing enriched_orders (Polars' own default is larger).
WIDE_SINK_MORSEL_ROWS = 25_000

VALIDATED_CUSTOMERS = Table(VALIDATION, "validated_customers")
ENRICHED_ORDERS = Table(GROUP, "enriched_orders")
ENRICHED_ORDERS_READS = Reads(
    Table(VALIDATION, "validated_orders"),
    Table(VALIDATION, "validated_products"),
    VALIDATED_CUSTOMERS,
)
PROFILE_READS = Reads(
    VALIDATED_CUSTOMERS,
    ENRICHED_ORDERS,
    Table(VALIDATION, "validated_support_tickets"),
    Table(VALIDATION, "validated_usage_events"),
)
DAILY_REVENUE_READS = Reads(ENRICHED_ORDERS, VALIDATED_CUSTOMERS)
PRODUCT_SALES_READS = Reads(ENRICHED_ORDERS)


@dg.asset(
    name="enriched_orders",
    group_name=GROUP,
    deps=ENRICHED_ORDERS_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Valid orders joined to products and customers, with revenue, margin, discount, "
    "time parts (hour to quarter, weekend, season by hemisphere) and geography.",
)
def enriched_orders_asset(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Valid orders joined to products and customers, with money, time parts and geography."""
    started = time.perf_counter()
    reads = ENRICHED_ORDERS_READS
    frame = enriched_orders(
        reads.scan(lake, "validated_orders"),
        reads.scan(lake, "validated_products"),
        reads.scan(lake, "validated_customers"),
    )
    rows_in = row_count(lake, VALIDATION, "validated_orders")
    # Smaller morsels for this wide join: at 10M orders the step peaked at 1,576 MB with Polars'
    # default and 865 MB with 25k rows, ~1 s slower (benchmarks/README.md).
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
    deps=PROFILE_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Customer 360: one row per customer with last activity, tenure, orders, value, "
    "average order value, support tickets and feature usage, as of the latest data.",
)
def customer_profiles_asset(
    lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Customer 360 as of the last day with any order, ticket or usage event."""
    started = time.perf_counter()
    tables = {
        "customers": PROFILE_READS.scan(lake, "validated_customers"),
        "orders": PROFILE_READS.scan(lake, "enriched_orders"),
        "tickets": PROFILE_READS.scan(lake, "validated_support_tickets"),
        "events": PROFILE_READS.scan(lake, "validated_usage_events"),
    }
    as_of = latest_activity(tables["orders"], tables["tickets"], tables["events"])
    if as_of is None:
        raise dg.Failure(
            "No orders, tickets or usage events are valid yet: nothing to enrich.",
            allow_retries=False,
        )
    rows_in = row_count(lake, VALIDATION, "validated_customers")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = customer_profiles_by_range(tables, as_of, Path(tmp))
        meta = publish_table(
            lake, warehouse, GROUP, "customer_profiles", frame, rows_in=rows_in, started=started
        )
    meta["as_of_date"] = as_of.isoformat()
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="daily_revenue",
    group_name=GROUP,
    deps=DAILY_REVENUE_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="One row per calendar day: revenue and margin (completed orders), orders, "
    "active customers and new customers; days with no orders are zeros, not gaps.",
)
def daily_revenue_asset(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Revenue, margin, orders, active and new customers per calendar day."""
    started = time.perf_counter()
    orders = DAILY_REVENUE_READS.scan(lake, "enriched_orders")
    customers = DAILY_REVENUE_READS.scan(lake, "validated_customers")
    rows_in = row_count(lake, GROUP, "enriched_orders")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        active = active_customers_by_range(orders, Path(tmp))
        frame = daily_revenue(orders, customers, active)
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
    deps=PRODUCT_SALES_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Product x day from completed orders: quantity, quantity-weighted average price, "
    "revenue and order count.",
)
def product_daily_sales_asset(
    lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Quantity, average price, revenue and orders per product and day (completed orders)."""
    started = time.perf_counter()
    orders = PRODUCT_SALES_READS.scan(lake, "enriched_orders")
    rows_in = row_count(lake, GROUP, "enriched_orders")
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        frame = product_daily_sales_by_range(orders, Path(tmp))
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
