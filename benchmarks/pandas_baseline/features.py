"""The baseline's features: the pipeline's churn, revenue and price features, with pandas."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assets.features.blueprints import CHURN_FEATURES, ENGAGEMENT_WEIGHTS, PLAN_SCORE

HORIZON_DAYS = 60
FEATURES = CHURN_FEATURES  # the same nine features, computed below with pandas


def churn_features(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    tickets: pd.DataFrame,
    events: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    labelled: bool,
) -> pd.DataFrame:
    """The nine churn features as of ``cutoff`` (the pipeline's formulas), and the label."""
    end = cutoff + pd.Timedelta(days=1)
    o = orders[orders["order_ts"] < end]
    t = tickets[tickets["opened_ts"] < end]
    e = events[events["event_ts"] < end]
    last = (
        pd.concat(
            [
                o.groupby("customer_id")["order_ts"].max(),
                t.groupby("customer_id")["opened_ts"].max(),
                e.groupby("customer_id")["event_ts"].max(),
            ],
            axis=1,
        )
        .max(axis=1)
        .dt.normalize()
        .rename("last_activity")
    )
    created = pd.to_datetime(customers["account_created_date"])
    base = customers.loc[created <= cutoff, ["customer_id", "plan_type"]].assign(
        created=created[created <= cutoff]
    )
    base = (
        base.join(last, on="customer_id")
        .join(o.groupby("customer_id")["revenue"].sum().rename("total_value"), on="customer_id")
        .join(t.groupby("customer_id").size().rename("tickets"), on="customer_id")
        .join(e.groupby("customer_id").size().rename("events"), on="customer_id")
    )
    base[["total_value", "tickets", "events"]] = base[["total_value", "tickets", "events"]].fillna(
        0
    )
    tenure = (cutoff - base["created"]).dt.days + 1.0
    days_since = (cutoff - base["last_activity"].fillna(base["created"])).dt.days.astype(float)
    f = base[["customer_id", "plan_type"]].copy()
    f["days_since_last_activity"] = days_since
    f["account_tenure_days"] = tenure
    f["daily_value_rate"] = base["total_value"] / tenure
    f["support_intensity"] = base["tickets"] / (tenure / 30.4375)
    f["feature_usage_rate"] = base["events"] / tenure
    f["activity_recency_score"] = np.exp(-days_since / 30.0)
    f["plan_value_score"] = base["plan_type"].map(PLAN_SCORE).fillna(0).astype(int)
    n = len(f)
    rank = base["total_value"].rank(method="min")
    f["value_tier"] = (np.floor((rank - 1) / max(n, 1) * 4).clip(0, 3) + 1).astype(int)
    usage_rank = (f["feature_usage_rate"].rank() - 1) / max(n - 1, 1)
    support_rank = (f["support_intensity"].rank() - 1) / max(n - 1, 1)
    w = ENGAGEMENT_WEIGHTS
    f["engagement_score"] = (
        w["recency"] * f["activity_recency_score"]
        + w["usage"] * usage_rank
        + w["value"] * (f["value_tier"] - 1) / 3
        + w["plan"] * f["plan_value_score"] / 3
        + w["low_support"] * (1 - support_rank)
    ).clip(0, 1)
    f = f.sort_values("customer_id", ignore_index=True)
    if not labelled:
        return f
    after = end + pd.Timedelta(days=HORIZON_DAYS)
    active = pd.concat(
        [
            orders.loc[orders["order_ts"].between(end, after, inclusive="left"), "customer_id"],
            tickets.loc[tickets["opened_ts"].between(end, after, inclusive="left"), "customer_id"],
            events.loc[events["event_ts"].between(end, after, inclusive="left"), "customer_id"],
        ]
    ).unique()
    f["churned"] = ~f["customer_id"].isin(active)
    return f


def revenue_features(daily: pd.DataFrame) -> pd.DataFrame:
    """Moving averages, growth rates, seasonal indices and volatility per day."""
    d = daily.sort_values("day").reset_index(drop=True)
    r = d["revenue"]
    for w in (7, 30, 90):
        d[f"ma_{w}"] = r.rolling(w, min_periods=1).mean()
    for lag in (1, 7, 30):
        d[f"growth_{lag}d"] = (r / r.shift(lag) - 1).replace([np.inf, -np.inf], np.nan)
    d["day_of_week"], d["month"] = d["day"].dt.dayofweek, d["day"].dt.month
    d["quarter"] = d["day"].dt.quarter
    mean = r.mean()
    for part in ("day_of_week", "month", "quarter"):
        d[f"{part}_index"] = d.groupby(part)["revenue"].transform("mean") / mean
    d["volatility_30d"] = r.rolling(30, min_periods=7).std() / r.rolling(30, min_periods=7).mean()
    return d


def price_features(product_daily: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Product x week: revenue, price index, demand trend, elasticity indicator, position."""
    s = product_daily.merge(products[["product_id", "category"]], on="product_id", how="left")
    s["period"] = s["day"].dt.to_period("W").dt.start_time
    s["paid"] = s["avg_price"] * s["quantity"]
    per = (
        s.groupby(["product_id", "category", "period"], dropna=False)
        .agg(quantity=("quantity", "sum"), revenue=("revenue", "sum"), paid=("paid", "sum"))
        .reset_index()
        .sort_values(["product_id", "period"])
    )
    per["avg_price"] = per["paid"] / per["quantity"]
    g = per.groupby("product_id")
    per["price_index"] = per["avg_price"] / g["avg_price"].transform("median")
    per["demand_trend"] = per["quantity"] / g["quantity"].transform(
        lambda q: q.shift(1).rolling(4, min_periods=1).mean()
    )
    dlogp = np.log(per["avg_price"]) - np.log(g["avg_price"].shift(1))
    dlogq = np.log(per["quantity"]) - np.log(g["quantity"].shift(1))
    per["elasticity_indicator"] = (dlogq / dlogp).where(dlogp.abs() >= 0.005)
    per["price_position"] = per.groupby(["category", "period"])["price_index"].rank(pct=True)
    return per
