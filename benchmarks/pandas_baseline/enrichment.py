"""The baseline's enrichment: the pipeline's joins and aggregates, with pandas."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd


class Enriched(NamedTuple):
    orders: pd.DataFrame
    daily: pd.DataFrame
    profiles: pd.DataFrame
    product_daily: pd.DataFrame


def enrich(valid: dict[str, pd.DataFrame], out_dir: Path) -> Enriched:
    """Orders with product and customer fields and revenue and margin, daily revenue, customer
    profiles and product-day sales, each written to ``out_dir``."""
    orders = (
        valid["orders"]
        .merge(
            valid["products"][["product_id", "category", "unit_cost", "list_price"]],
            on="product_id",
            how="left",
        )
        .merge(
            valid["customers"][["customer_id", "country", "plan_type"]],
            on="customer_id",
            how="left",
        )
    )
    orders["gross_amount"] = orders["quantity"] * orders["unit_price"]
    orders["revenue"] = np.where(
        orders["status"] == "completed",
        orders["gross_amount"] * (1 - orders["discount"].fillna(0)),
        0.0,
    )
    orders["margin"] = orders["revenue"] - np.where(
        orders["status"] == "completed", orders["quantity"] * orders["unit_cost"], 0.0
    )
    orders["day"] = orders["order_ts"].dt.normalize()
    orders["weekday"] = orders["order_ts"].dt.dayofweek
    orders["month"] = orders["order_ts"].dt.month
    orders.to_parquet(out_dir / "enriched_orders.parquet")
    daily = orders.groupby("day").agg(
        revenue=("revenue", "sum"),
        orders=("order_id", "nunique"),
        customers=("customer_id", "nunique"),
    )
    daily.to_parquet(out_dir / "daily_revenue.parquet")
    profiles = orders.groupby("customer_id").agg(
        order_count=("order_id", "nunique"),
        total_value=("revenue", "sum"),
        last_order=("order_ts", "max"),
    )
    tickets = valid["support_tickets"].groupby("customer_id").size().rename("tickets")
    usage = (
        valid["usage_events"]
        .groupby("customer_id")
        .agg(events=("event_id", "size"), features=("feature", "nunique"))
    )
    profiles = (
        valid["customers"][["customer_id", "plan_type", "account_created_date"]]
        .merge(profiles, on="customer_id", how="left")
        .merge(tickets, on="customer_id", how="left")
        .merge(usage, on="customer_id", how="left")
    )
    profiles.to_parquet(out_dir / "customer_profiles.parquet")
    product_daily = orders.groupby(["product_id", "day"]).agg(
        quantity=("quantity", "sum"), revenue=("revenue", "sum"), avg_price=("unit_price", "mean")
    )
    product_daily.to_parquet(out_dir / "product_daily_sales.parquet")
    return Enriched(orders, daily, profiles, product_daily)
