"""The churn blueprint as feature tables: one range of customers at a time, in labelled snapshots
or unlabelled for scoring; the columns the churn model reads; the saved preprocessing's home."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from assets.common.artifacts import load_artifact
from assets.core.frames import aggregate_in_key_ranges, combine_in_key_ranges
from assets.core.storage import Lake, LakePath
from assets.features.blueprints import (
    CHURN,
    CHURN_FEATURES,
    PRICE,
    churn_activity,
    churn_scores,
    default_cutoff,
    price_by_product,
    price_positions,
    revenue_features,
    roc_auc,
)

GROUP = "features"
PREPROCESSOR = "churn_preprocessor"
# The model's inputs: the numbers with the engagement score last, then the plan.
NUMERIC_FEATURES = [f for f in CHURN_FEATURES if f != "engagement_score"] + ["engagement_score"]
CATEGORICAL_FEATURES = ["plan_type"]
FEATURE_COLUMNS = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]

Activity = Callable[[dict[str, pl.LazyFrame]], pl.LazyFrame]


def churn_cutoff(latest: date, horizon_days: int, cutoff_date: str | None) -> date:
    """The labelled snapshot's cutoff: the one asked for, else one horizon before the latest
    activity (so the horizon after it is observed)."""
    if cutoff_date:
        return date.fromisoformat(cutoff_date)
    return default_cutoff(latest, horizon_days)


def snapshot_cutoffs(cutoff: date, horizon_days: int) -> dict[str, date]:
    """Two labelled snapshots one horizon apart: models fit on "train" and are judged on the
    later "holdout", whose labels lie after anything the train rows could see (time-aware
    holdout)."""
    return {"train": cutoff - timedelta(days=horizon_days), "holdout": cutoff}


def in_customer_ranges(
    frames: dict[str, pl.LazyFrame], activity: Activity, scratch: Path
) -> pl.LazyFrame:
    """``activity`` over one range of customers at a time, with their orders, tickets and
    events (only the columns the churn blueprint reads): the per-customer group-bys and joins
    hold a range's customers, not all of them."""
    tables = {name: frame.select(CHURN.inputs[name]) for name, frame in frames.items()}
    return combine_in_key_ranges(tables, "customer_id", activity, scratch)


def _inputs(t: dict[str, pl.LazyFrame]) -> tuple[pl.LazyFrame, ...]:
    return t["customers"], t["orders"], t["support_tickets"], t["usage_events"]


def unlabelled_churn(frames: dict[str, pl.LazyFrame], cutoff: date, scratch: Path) -> pl.LazyFrame:
    """The churn blueprint as of ``cutoff`` with no label (scoring), by customer range."""

    def activity(t: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        return churn_activity(*_inputs(t), cutoff=cutoff, horizon_days=None)

    return churn_scores(in_customer_ranges(frames, activity, scratch), labelled=False)


def labelled_churn(
    frames: dict[str, pl.LazyFrame], snapshots: dict[str, date], horizon_days: int, scratch: Path
) -> pl.LazyFrame:
    """The churn blueprint with its label at each snapshot's cutoff, a ``snapshot`` column
    naming it; the parts are written under ``scratch``, which must outlive the frame."""

    def activity(t: dict[str, pl.LazyFrame]) -> pl.LazyFrame:
        return pl.concat(
            churn_activity(*_inputs(t), cutoff=c, horizon_days=horizon_days).with_columns(
                pl.lit(name).alias("snapshot")
            )
            for name, c in snapshots.items()
        )

    per_customer = in_customer_ranges(frames, activity, scratch)
    # One snapshot at a time into scratch: ranking both in one query held both at once
    # (at xl, 2.3M customers a snapshot: ~300 MB more).
    parts = []
    for name in snapshots:
        part = scratch / f"snapshot-{name}.parquet"
        churn_scores(
            per_customer.filter(pl.col("snapshot") == name).drop("snapshot"), labelled=True
        ).with_columns(pl.lit(name).alias("snapshot")).sink_parquet(part, compression="lz4")
        parts.append(part)
    return pl.scan_parquet(parts)


@dataclass(frozen=True)
class ChurnSummary:
    """The labelled features' headline numbers, on the holdout snapshot."""

    churn_rate: float
    engagement_auc: float
    min_days_since_last_activity: float
    no_future_data: bool


def churn_summary(features: pl.LazyFrame) -> ChurnSummary:
    """Churn rate, how well the engagement score alone ranks churners (ROC AUC of its
    complement) and whether any feature saw activity after the cutoff."""
    out = (
        features.filter(pl.col("snapshot") == "holdout")
        .select("churned", "engagement_score", "days_since_last_activity")
        .collect()
    )
    days = out["days_since_last_activity"]
    return ChurnSummary(
        churn_rate=float(out.select(pl.col("churned").cast(pl.Float64).mean()).item() or 0.0),
        engagement_auc=roc_auc(1 - out["engagement_score"], out["churned"]),
        min_days_since_last_activity=float(
            out.select(pl.col("days_since_last_activity").min()).item() or 0.0
        ),
        no_future_data=bool((days >= 0).all()),
    )


def revenue_table(daily: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    """The revenue blueprint: a row per day, small enough to compute whole."""
    return revenue_features(daily)


def price_table(sales: pl.LazyFrame, scratch: Path) -> pl.LazyFrame:
    """Price features with each product's part computed one range of products at a time: at xl
    (50k products, 16M product-days) the whole table in one query peaked at 1,450 MB."""
    columns = PRICE.inputs["product_daily_sales"]
    by_product = aggregate_in_key_ranges(
        sales.select(columns), "product_id", price_by_product, scratch
    )
    return price_positions(by_product)


# Each table blueprint's build: (its input, a scratch folder) -> the features.
TABLE_BUILDS: dict[str, Callable[[pl.LazyFrame, Path], pl.LazyFrame]] = {
    "revenue": revenue_table,
    "price": price_table,
}


def preprocessor_dir(lake: Lake) -> LakePath:
    return lake.table_dir(GROUP, PREPROCESSOR)


def load_preprocessor(lake: Lake) -> tuple[Any, dict[str, Any]]:
    """The latest fitted preprocessing pipeline and its record, as analytics and scoring use it."""
    return load_artifact(preprocessor_dir(lake))
