"""Feature blueprints: churn, revenue and price features from enriched data, as plain functions.

Each blueprint declares the input columns it needs (``required``) and can use (``optional``);
``compatibility`` says which are missing or too sparse before anything is computed.

Churn features are computed as of a cutoff date. Only activity on or before the cutoff enters a
feature; the ``churned`` label looks at the ``horizon_days`` after it. The engagement score is
a weighted blend of five components, each scaled to 0..1:

    engagement_score = 0.35 x activity_recency_score
                     + 0.25 x percentile rank of feature_usage_rate
                     + 0.15 x (value_tier - 1) / 3
                     + 0.10 x plan_value_score / 3
                     + 0.15 x (1 - percentile rank of support_intensity)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl

PLAN_SCORE = {"free": 0, "basic": 1, "pro": 2, "enterprise": 3}
ENGAGEMENT_WEIGHTS = {
    "recency": 0.35,
    "usage": 0.25,
    "value": 0.15,
    "plan": 0.10,
    "low_support": 0.15,
}
CHURN_FEATURES = [
    "days_since_last_activity",
    "account_tenure_days",
    "daily_value_rate",
    "support_intensity",
    "feature_usage_rate",
    "activity_recency_score",
    "value_tier",
    "plan_value_score",
    "engagement_score",
]


class BlueprintError(ValueError):
    """An input cannot feed a blueprint; the message names the field."""


@dataclass(frozen=True)
class Blueprint:
    name: str
    inputs: dict[str, list[str]]  # input name -> required columns
    optional: dict[str, list[str]] = field(default_factory=dict)
    min_coverage: float = 0.9


CHURN = Blueprint(
    "churn",
    inputs={
        "customers": ["customer_id", "plan_type", "account_created_date"],
        "orders": ["customer_id", "order_ts", "revenue"],
        "support_tickets": ["customer_id", "opened_ts"],
        "usage_events": ["customer_id", "event_ts"],
    },
    optional={"usage_events": ["feature"]},
)
REVENUE = Blueprint("revenue", inputs={"daily_revenue": ["date", "revenue", "orders"]})
PRICE = Blueprint(
    "price",
    inputs={
        "product_daily_sales": [
            "product_id",
            "category",
            "date",
            "quantity",
            "avg_price",
            "revenue",
        ]
    },
)


def compatibility(
    blueprint: Blueprint, frames: dict[str, pl.LazyFrame]
) -> dict[str, dict[str, float]]:
    """Coverage (non-null share) of every required column; raises naming a missing one."""
    coverage: dict[str, dict[str, float]] = {}
    for name, columns in blueprint.inputs.items():
        if name not in frames:
            raise BlueprintError(f"blueprint {blueprint.name!r}: input {name!r} is not provided")
        present = set(frames[name].collect_schema().names())
        missing = [c for c in columns if c not in present]
        if missing:
            raise BlueprintError(
                f"blueprint {blueprint.name!r}: input {name!r} has no column(s) "
                f"{', '.join(repr(m) for m in missing)} (has: {', '.join(sorted(present))})"
            )
        row = (
            frames[name]
            .select([pl.col(c).is_not_null().mean().alias(c) for c in columns])
            .collect()
            .row(0, named=True)
        )
        coverage[name] = {c: float(v) if v is not None else 0.0 for c, v in row.items()}
    return coverage


def sparse_fields(coverage: dict[str, dict[str, float]], threshold: float) -> list[str]:
    return [
        f"{i}.{c} ({v:.1%})"
        for i, cols in coverage.items()
        for c, v in cols.items()
        if v < threshold
    ]


def default_cutoff(last_date: date, horizon_days: int) -> date:
    return last_date - timedelta(days=horizon_days)


def churn_features(
    customers: pl.LazyFrame,
    orders: pl.LazyFrame,
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    *,
    cutoff: date,
    horizon_days: int | None,
) -> pl.LazyFrame:
    """One row per customer who existed at ``cutoff``, with the nine churn features.

    With ``horizon_days``, adds ``churned``: no order, ticket or event in the horizon after the
    cutoff. With ``None`` (scoring), there is no label. It is ``churn_activity`` (each
    customer's own rows) followed by ``churn_scores`` (ranks among all customers).
    """
    activity = churn_activity(
        customers, orders, tickets, events, cutoff=cutoff, horizon_days=horizon_days
    )
    return churn_scores(activity, labelled=horizon_days is not None)


def churn_activity(
    customers: pl.LazyFrame,
    orders: pl.LazyFrame,
    tickets: pl.LazyFrame,
    events: pl.LazyFrame,
    *,
    cutoff: date,
    horizon_days: int | None,
) -> pl.LazyFrame:
    """The churn features that need only each customer's own rows, plus ``total_value`` (and
    ``churned`` when labelled), one row per customer who existed at ``cutoff``.

    Each customer's row depends on that customer's rows alone, so it can be computed one range
    of customers at a time (``frames.combine_in_key_ranges``).
    """
    end = pl.lit(cutoff + timedelta(days=1)).cast(pl.Datetime("us"))
    labelled = horizon_days is not None
    after = pl.lit(cutoff + timedelta(days=(horizon_days or 0) + 1)).cast(pl.Datetime("us"))

    def activity(frame: pl.LazyFrame, ts: str, name: str, total: pl.Expr) -> pl.LazyFrame:
        """One group-by per source: the last activity before the cutoff, ``total`` summed over
        that activity and, when labelled, whether there was any in the horizon after it. Values
        outside the window are nulled before the group-by, which then runs plain aggregations
        (a group-by over 2M string keys costs ~0.3 s on this VM; there were eight)."""
        before = pl.col(ts) < end
        columns = [
            pl.col("customer_id"),
            pl.when(before).then(pl.col(ts)).alias(f"_last_{name}"),
            pl.when(before).then(total).alias(name),
        ]
        aggs = [pl.col(f"_last_{name}").max(), pl.col(name).sum()]
        if labelled:
            columns.append(before.not_().alias(f"_active_{name}"))
            aggs.append(pl.col(f"_active_{name}").any())
        window = pl.col(ts) < (after if labelled else end)
        return frame.filter(window).select(columns).group_by("customer_id").agg(aggs)

    names = ("total_value", "tickets", "events")
    base = customers.filter(pl.col("account_created_date") <= cutoff).select(
        "customer_id", "plan_type", "account_created_date"
    )
    for source in (
        activity(orders, "order_ts", "total_value", pl.col("revenue")),
        activity(tickets, "opened_ts", "tickets", pl.lit(1, pl.UInt32)),
        activity(events, "event_ts", "events", pl.lit(1, pl.UInt32)),
    ):
        base = base.join(source, on="customer_id", how="left")
    base = base.with_columns(
        pl.col(*names).fill_null(0),
        pl.max_horizontal(f"_last_{n}" for n in names).dt.date().alias("last_activity_date"),
    )
    tenure = ((pl.lit(cutoff) - pl.col("account_created_date")).dt.total_days() + 1).cast(
        pl.Float64
    )
    last_seen = pl.coalesce("last_activity_date", "account_created_date")
    days_since = (pl.lit(cutoff) - last_seen).dt.total_days().cast(pl.Float64)
    own = [
        days_since.alias("days_since_last_activity"),
        tenure.alias("account_tenure_days"),
        (pl.col("total_value") / tenure).alias("daily_value_rate"),
        (pl.col("tickets") / (tenure / 30.4375)).alias("support_intensity"),
        (pl.col("events") / tenure).alias("feature_usage_rate"),
        (-days_since / 30.0).exp().alias("activity_recency_score"),
        pl.col("plan_type")
        .replace_strict(PLAN_SCORE, default=0, return_dtype=pl.Int64)
        .alias("plan_value_score"),
    ]
    if labelled:
        # Churned: no order, ticket or event in the horizon after the cutoff.
        active = pl.any_horizontal(pl.col(f"_active_{n}").fill_null(False) for n in names)
        own.append(active.not_().alias("churned"))
    return base.select(
        "customer_id",
        "plan_type",
        pl.lit(cutoff).alias("cutoff_date"),
        "total_value",
        *own,
    ).sort("customer_id")


def churn_scores(activity: pl.LazyFrame, *, labelled: bool) -> pl.LazyFrame:
    """``churn_activity``'s rows with the features that rank a customer among all of them
    (``value_tier``, ``engagement_score``), in the churn features' column order and in the
    activity's row order (``churn_activity`` sorts by customer, and so do its key ranges)."""
    # The ranks need every customer at once, so they are taken over the three ranked columns
    # alone and set beside the streamed rows: holding all fourteen columns to rank them peaked
    # ~400 MB higher at xl (2.3M customers).
    w = ENGAGEMENT_WEIGHTS
    ranks = activity.select(
        # Quartile of total value: 1 (lowest) to 4; ties share the lower tier.
        (((pl.col("total_value").rank("min") - 1) / pl.len() * 4).floor().clip(0, 3) + 1)
        .cast(pl.Int64)
        .alias("value_tier"),
        ((pl.col("feature_usage_rate").rank("average") - 1) / (pl.len() - 1).clip(1)).alias(
            "_usage_rank"
        ),
        ((pl.col("support_intensity").rank("average") - 1) / (pl.len() - 1).clip(1)).alias(
            "_support_rank"
        ),
    )
    feats = pl.concat([activity, ranks], how="horizontal").with_columns(
        (
            w["recency"] * pl.col("activity_recency_score")
            + w["usage"] * pl.col("_usage_rank")
            + w["value"] * (pl.col("value_tier") - 1) / 3
            + w["plan"] * pl.col("plan_value_score") / 3
            + w["low_support"] * (1 - pl.col("_support_rank"))
        )
        .clip(0.0, 1.0)
        .alias("engagement_score"),
    )
    columns = ["customer_id", "plan_type", "cutoff_date", *CHURN_FEATURES]
    # In the activity's order, by customer: sorting again would hold every row at once.
    return feats.select(*columns, *(["churned"] if labelled else []))


def revenue_features(daily: pl.LazyFrame) -> pl.LazyFrame:
    """Per day: moving averages, growth rates, seasonal indices and rolling volatility."""
    r = pl.col("revenue")
    out = daily.sort("date").with_columns(
        r.rolling_mean(7, min_samples=1).alias("ma_7"),
        r.rolling_mean(30, min_samples=1).alias("ma_30"),
        r.rolling_mean(90, min_samples=1).alias("ma_90"),
        (r / r.shift(1) - 1).alias("growth_1d"),
        (r / r.shift(7) - 1).alias("growth_7d"),
        (r / r.shift(30) - 1).alias("growth_30d"),
        pl.col("date").dt.weekday().alias("day_of_week"),
        pl.col("date").dt.month().alias("month"),
        pl.col("date").dt.quarter().alias("quarter"),
    )
    out = out.with_columns(
        pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
        for c in ("growth_1d", "growth_7d", "growth_30d")
    )
    mean = r.mean()
    return out.with_columns(
        (r.mean().over("day_of_week") / mean).alias("dow_index"),
        (r.mean().over("month") / mean).alias("month_index"),
        (r.mean().over("quarter") / mean).alias("quarter_index"),
        (r.rolling_std(30, min_samples=7) / r.rolling_mean(30, min_samples=7)).alias(
            "volatility_30d"
        ),
    )


def price_features(sales: pl.LazyFrame, period: str = "1w") -> pl.LazyFrame:
    """Product x period: revenue, price index, demand trend, elasticity indicator, price position.

    - ``price_index``: the period's average price / the product's median period price;
    - ``demand_trend``: quantity / the product's mean quantity over the previous 4 periods;
    - ``elasticity_indicator``: change in log quantity / change in log price from the previous
      period, null when the price barely moved (|change in log price| < 0.005);
    - ``price_position``: percentile of the product's price index within its category and period.

    It is ``price_by_product`` (each product's own rows) followed by ``price_positions``
    (ranks across the products of a category).
    """
    return price_positions(price_by_product(sales, period))


def price_by_product(sales: pl.LazyFrame, period: str = "1w") -> pl.LazyFrame:
    """The price features that need only each product's own rows, by product and period.

    Each product's rows depend on that product's sales alone, so they can be computed one range
    of products at a time (``frames.aggregate_in_key_ranges``); the rows come sorted by product
    and period, as do the ranges.
    """
    per = (
        sales.with_columns(pl.col("date").dt.truncate(period).alias("period"))
        .group_by("product_id", "category", "period")
        .agg(
            pl.col("quantity").sum().alias("quantity"),
            pl.col("revenue").sum().alias("revenue"),
            ((pl.col("avg_price") * pl.col("quantity")).sum() / pl.col("quantity").sum()).alias(
                "avg_price"
            ),
        )
        .sort("product_id", "period")
    )
    dlogp = pl.col("avg_price").log() - pl.col("avg_price").log().shift(1).over("product_id")
    dlogq = pl.col("quantity").log() - pl.col("quantity").log().shift(1).over("product_id")
    return per.with_columns(
        (pl.col("avg_price") / pl.col("avg_price").median().over("product_id")).alias(
            "price_index"
        ),
        (
            pl.col("quantity")
            / pl.col("quantity").shift(1).rolling_mean(4, min_samples=1).over("product_id")
        ).alias("demand_trend"),
        pl.when(dlogp.abs() >= 0.005).then(dlogq / dlogp).alias("elasticity_indicator"),
        dlogp.alias("log_price_change"),
        dlogq.alias("log_quantity_change"),
    )


def price_positions(by_product: pl.LazyFrame) -> pl.LazyFrame:
    """``price_by_product``'s rows with ``price_position``, in their order.

    The rank within a category and period spans products, so it is taken over the three columns
    it needs and set beside the streamed rows (holding every column to rank it grows with the
    products)."""
    position = by_product.select(
        (
            (pl.col("price_index").rank("average").over("category", "period") - 1)
            / (pl.len().over("category", "period") - 1).clip(1)
        ).alias("price_position")
    )
    return pl.concat([by_product, position], how="horizontal")


def roc_auc(scores: pl.Series, labels: pl.Series) -> float:
    """ROC AUC by the rank-sum formula (ties averaged), for quick checks without sklearn."""
    frame = pl.DataFrame({"s": scores, "y": labels.cast(pl.Boolean)}).drop_nulls()
    pos = int(frame["y"].sum())
    neg = frame.height - pos
    if pos == 0 or neg == 0:
        return math.nan
    ranks = frame["s"].rank("average")
    rank_sum = float(ranks.filter(frame["y"]).sum())
    return (rank_sum - pos * (pos + 1) / 2) / (pos * neg)


BLUEPRINTS = {"churn": CHURN, "revenue": REVENUE, "price": PRICE}


def feed_input(blueprint: Blueprint, requested: str | None) -> str:
    """Which blueprint input a dataset fills: the one asked for, or the blueprint's only one."""
    if requested is None:
        if len(blueprint.inputs) != 1:
            raise BlueprintError(
                f"input: the {blueprint.name} blueprint has several inputs "
                f"({', '.join(blueprint.inputs)}); say which one this dataset fills"
            )
        return next(iter(blueprint.inputs))
    if requested not in blueprint.inputs:
        raise BlueprintError(
            f"input: the {blueprint.name} blueprint has no input {requested!r} "
            f"(inputs: {', '.join(blueprint.inputs)})"
        )
    return requested


def apply_mapping(frame: pl.LazyFrame, mapping: dict[str, str]) -> pl.LazyFrame:
    """Columns renamed to blueprint field names (``field: column``); a native column that
    shares a mapped field's name gives way to the mapped one."""
    names = frame.collect_schema().names()
    sources = set(mapping.values())
    kept = [c for c in names if c not in sources and c not in mapping]
    return frame.select(*[pl.col(column).alias(field) for field, column in mapping.items()], *kept)


def unmapped_fields(blueprint: Blueprint, input_name: str, columns: list[str]) -> list[str]:
    """Required fields of ``input_name`` that the (mapped) columns do not provide."""
    return [f for f in blueprint.inputs[input_name] if f not in columns]
