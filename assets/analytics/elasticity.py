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


def _slope(x: np.ndarray, y: np.ndarray, w: np.ndarray | None = None) -> tuple[float, float]:
    """(Weighted) OLS slope of centred data and its standard error."""
    w = np.ones(len(x)) if w is None else w
    sxx = float((w * x * x).sum())
    if len(x) < 3 or sxx <= 0:
        return float("nan"), float("nan")
    b = float((w * x * y).sum() / sxx)
    resid = y - b * x
    se = float(np.sqrt((w * resid * resid).sum() / (len(x) - 2) / sxx))
    return b, se


def best_price_change(elasticity: float) -> tuple[float, float]:
    """(price change, expected revenue change) maximising revenue within +-20%."""
    if not np.isfinite(elasticity):
        return 0.0, 0.0
    revenue = (1 + CHANGES) ** (1 + elasticity) - 1
    i = int(np.argmax(revenue))
    return float(CHANGES[i]), float(revenue[i])


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


def elasticities(weekly: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per product, per category) elasticity tables from ``price_features`` rows."""
    frame = _demeaned(weekly)
    rows = []
    for (product, category), g in frame.group_by("product_id", "category", maintain_order=True):
        if g.height < MIN_WEEKS:
            continue
        b, se = _slope(g["lp"].to_numpy(), g["lq"].to_numpy())
        change, effect = best_price_change(b)
        rows.append(
            {
                "product_id": product,
                "category": category,
                "elasticity": b,
                "std_error": se,
                "ci_low": b - T95 * se,
                "ci_high": b + T95 * se,
                "weeks": g.height,
                "best_price_change": change,
                "expected_revenue_change": effect,
            }
        )
    by_product = pl.DataFrame(
        rows,
        schema={
            "product_id": pl.String,
            "category": pl.String,
            "elasticity": pl.Float64,
            "std_error": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "weeks": pl.Int64,
            "best_price_change": pl.Float64,
            "expected_revenue_change": pl.Float64,
        },
    )
    cats = []
    for (category,), g in frame.group_by("category", maintain_order=True):
        b, se = _slope(g["lp"].to_numpy(), g["lq"].to_numpy(), g["weight"].to_numpy())
        change, effect = best_price_change(b)
        cats.append(
            {
                "category": category,
                "elasticity": b,
                "std_error": se,
                "ci_low": b - T95 * se,
                "ci_high": b + T95 * se,
                "observations": g.height,
                "products": g["product_id"].n_unique(),
                "best_price_change": change,
                "expected_revenue_change": effect,
            }
        )
    return by_product, pl.DataFrame(cats).sort("category")
