"""Price elasticity: log-log regression of weekly quantity on price, per product and per category.

For each product, ``log q = a + e log p`` on its weekly rows, after removing the category's
week-to-week demand swings, so seasonality is not read as a price response. Per category, the
same slope with product and period fixed effects (exact two-way demeaning by alternating
projections), weighted by each product's mean weekly quantity: the variance of a log count is
about 1/count, so thin product-weeks would otherwise pull the slope toward zero. Confidence
intervals are 95% from the (weighted) OLS standard error. The revenue-maximising price change
within +-20% follows from revenue ~ p^(1+e).
"""

from __future__ import annotations

import numpy as np
import polars as pl

MIN_WEEKS = 8
T95 = 1.96
CHANGES = np.round(np.arange(-0.20, 0.2001, 0.01), 2)


def best_price_changes(elasticity: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(price change, expected revenue change) maximising revenue within +-20%, per elasticity;
    (0, 0) where the elasticity is not finite."""
    e = np.asarray(elasticity, dtype=float)
    finite = np.isfinite(e)
    revenue = (1 + CHANGES)[None, :] ** (1 + np.where(finite, e, 0.0)[:, None]) - 1
    best = revenue.argmax(axis=1)
    effect = revenue[np.arange(len(e)), best]
    return np.where(finite, CHANGES[best], 0.0), np.where(finite, effect, 0.0)


def best_price_change(elasticity: float) -> tuple[float, float]:
    """(price change, expected revenue change) maximising revenue within +-20%."""
    change, effect = best_price_changes(np.array([elasticity]))
    return float(change[0]), float(effect[0])


def _fits(frame: pl.DataFrame, by: list[str], weight: pl.Expr, *extra: pl.Expr) -> pl.DataFrame:
    """Per group of ``by``: the (weighted) OLS slope of centred ``lq`` on ``lp``, its standard
    error and 95% interval, and the best price change; NaN where there are fewer than three rows
    or no price variation."""
    x, y = pl.col("lp"), pl.col("lq")
    sxx = (weight * x * x).sum()
    b = (weight * x * y).sum() / sxx
    fits = (
        frame.group_by(by, maintain_order=True)
        .agg(
            b.alias("elasticity"),
            sxx.alias("_sxx"),
            (weight * (y - b * x) ** 2).sum().alias("_sse"),
            pl.len().alias("_n"),
            *extra,
        )
        .with_columns(
            pl.when((pl.col("_n") >= 3) & (pl.col("_sxx") > 0))
            .then(pl.col("elasticity"))
            .otherwise(float("nan"))
            .alias("elasticity"),
            (pl.col("_sse") / (pl.col("_n") - 2) / pl.col("_sxx")).sqrt().alias("std_error"),
        )
        .with_columns(
            pl.when(pl.col("elasticity").is_nan())
            .then(float("nan"))
            .otherwise(pl.col("std_error"))
            .alias("std_error")
        )
        .with_columns(
            (pl.col("elasticity") - T95 * pl.col("std_error")).alias("ci_low"),
            (pl.col("elasticity") + T95 * pl.col("std_error")).alias("ci_high"),
        )
    )
    change, effect = best_price_changes(fits["elasticity"].to_numpy())
    return fits.with_columns(
        pl.Series("best_price_change", change), pl.Series("expected_revenue_change", effect)
    ).drop("_sxx", "_sse", "_n")


def _demeaned(weekly: pl.DataFrame, rounds: int = 5) -> pl.DataFrame:
    # Products with no category are those that failed validation (their orders are valid and
    # still count as revenue); without a category there is no week effect to remove, so they
    # are left out of elasticity rather than pooled into a null "category".
    valid = weekly.filter(
        (pl.col("quantity") > 0) & (pl.col("avg_price") > 0) & pl.col("category").is_not_null()
    )
    frame = valid.with_columns(
        pl.col("quantity").log().alias("lq"),
        pl.col("avg_price").log().alias("lp"),
        pl.col("quantity").mean().over("product_id").alias("weight"),
    )
    for _ in range(rounds):  # alternating projections converge to the two-way fixed effects
        for col in ("lq", "lp"):
            frame = frame.with_columns(
                (pl.col(col) - pl.col(col).mean().over("product_id")).alias(col)
            ).with_columns((pl.col(col) - pl.col(col).mean().over("category", "period")).alias(col))
    return frame


# The price_features columns ``elasticities`` reads (the step reads only these).
ELASTICITY_INPUTS = ["product_id", "category", "period", "quantity", "avg_price"]


def elasticities(weekly: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per product, per category) elasticity tables from ``price_features`` rows."""
    frame = _demeaned(weekly)
    columns = ["elasticity", "std_error", "ci_low", "ci_high"]
    by_product = (
        _fits(frame, ["product_id", "category"], pl.lit(1.0), pl.len().alias("weeks"))
        .filter(pl.col("weeks") >= MIN_WEEKS)
        .select(
            pl.col("product_id", "category").cast(pl.String),
            *columns,
            pl.col("weeks").cast(pl.Int64),
            "best_price_change",
            "expected_revenue_change",
        )
    )
    by_category = _fits(
        frame,
        ["category"],
        pl.col("weight"),
        pl.len().alias("observations"),
        pl.col("product_id").n_unique().alias("products"),
    ).select(
        "category",
        *columns,
        pl.col("observations", "products").cast(pl.Int64),
        "best_price_change",
        "expected_revenue_change",
    )
    return by_product, by_category.sort("category")
