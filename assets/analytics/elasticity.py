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

from typing import NamedTuple

import numpy as np
import polars as pl

from assets.core.frames import key_codes, with_codes

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


def _fits(
    codes: np.ndarray, groups: int, x: np.ndarray, y: np.ndarray, weight: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Per code in ``range(groups)``: the (weighted) OLS slope of centred ``y`` on ``x``, its
    standard error and 95% interval, the best price change, and the rows (``n``); NaN where
    there are fewer than three rows or no price variation. Sums by code (np.bincount)."""
    wx = x if weight is None else weight * x
    n = np.bincount(codes, minlength=groups)
    sxx = np.bincount(codes, weights=wx * x, minlength=groups)
    sxy = np.bincount(codes, weights=wx * y, minlength=groups)
    del wx
    with np.errstate(invalid="ignore", divide="ignore"):
        b = sxy / sxx
        residual = y - b[codes] * x
        wr = residual if weight is None else weight * residual
        sse = np.bincount(codes, weights=wr * residual, minlength=groups)
        ok = (n >= 3) & (sxx > 0)
        elasticity = np.where(ok, b, np.nan)
        std_error = np.where(ok, np.sqrt(sse / (n - 2) / sxx), np.nan)
    change, effect = best_price_changes(elasticity)
    return {
        "elasticity": elasticity,
        "std_error": std_error,
        "ci_low": elasticity - T95 * std_error,
        "ci_high": elasticity + T95 * std_error,
        "best_price_change": change,
        "expected_revenue_change": effect,
        "n": n,
    }


class _Weeks(NamedTuple):
    """The valid product-weeks as arrays: integer codes, demeaned logs, product weights."""

    product: np.ndarray
    category: np.ndarray
    lq: np.ndarray
    lp: np.ndarray
    weight: np.ndarray
    products: pl.DataFrame  # _product, product_id
    categories: pl.DataFrame  # _category, category


def _demeaned(weekly: pl.LazyFrame | pl.DataFrame, rounds: int = 5) -> _Weeks:
    """The valid product-weeks with ``lq`` and ``lp`` demeaned by product and by category x
    period, and each product's mean weekly quantity as its ``weight``."""
    # Products with no category are those that failed validation (their orders are valid and
    # still count as revenue); without a category there is no week effect to remove, so they
    # are left out of elasticity rather than pooled into a null "category".
    valid = weekly.lazy().filter(
        (pl.col("quantity") > 0) & (pl.col("avg_price") > 0) & pl.col("category").is_not_null()
    )
    products = key_codes(valid, "product_id", "_product")
    categories = key_codes(valid, "category", "_category")
    # The string keys become integer codes through two small joins, streamed, so the rows held
    # are numbers only, and every group sum is taken by code (np.bincount). With
    # ``mean().over()`` and ``group_by`` on the string keys, beside an unfiltered copy of the
    # input, the step at `xl` (4.8M product-weeks) peaked at 1.6 GB against 0.7 GB at `large`.
    frame = (
        with_codes(with_codes(valid, products, "product_id"), categories, "category")
        .select(
            "_product",
            "_category",
            pl.col("period").cast(pl.Date).cast(pl.Int64).alias("_day"),
            pl.col("quantity").cast(pl.Float64),
            pl.col("quantity").log().alias("lq"),
            pl.col("avg_price").log().alias("lp"),
        )
        .collect(engine="streaming")
    )
    product = frame["_product"].to_numpy()
    category = frame["_category"].to_numpy()
    days = frame["_day"].to_numpy()
    first = int(days.min(initial=0))
    cell = category * (int(days.max(initial=0)) - first + 1) + (days - first)
    del days
    groups = [(codes, np.bincount(codes)) for codes in (product, cell)]

    def group_mean(x: np.ndarray, codes: np.ndarray, counts: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):  # codes with no rows
            return (np.bincount(codes, weights=x, minlength=len(counts)) / counts)[codes]

    weight = group_mean(frame["quantity"].to_numpy(), *groups[0])
    demeaned: dict[str, np.ndarray] = {}
    for col in ("lq", "lp"):
        x = frame[col].to_numpy().copy()
        # Alternating projections converge to the two-way (product, category x period) fixed
        # effects; each column is demeaned on its own.
        for _ in range(rounds):
            for codes, counts in groups:
                x -= group_mean(x, codes, counts)
        demeaned[col] = x
    return _Weeks(
        product,
        category,
        lq=demeaned["lq"],
        lp=demeaned["lp"],
        weight=weight,
        products=products,
        categories=categories,
    )


# The price_features columns ``elasticities`` reads (the step reads only these).
ELASTICITY_INPUTS = ["product_id", "category", "period", "quantity", "avg_price"]
COLUMNS = [
    "elasticity",
    "std_error",
    "ci_low",
    "ci_high",
    "best_price_change",
    "expected_revenue_change",
]


def elasticities(weekly: pl.LazyFrame | pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(per product, per category) elasticity tables from ``price_features`` rows (a LazyFrame
    is scanned three times: the product names, the category names, the numbers).

    Products come in the order they first appear in ``weekly``, categories by name. A product
    has one category (the products table's).
    """
    w = _demeaned(weekly)
    n_products, n_categories = w.products.height, w.categories.height
    per_product = _fits(w.product, n_products, w.lp, w.lq, None)
    category_of = np.zeros(n_products, dtype=np.int64)
    category_of[w.product] = w.category
    seen = pl.Series(w.product).unique(maintain_order=True).to_numpy()
    by_product = pl.DataFrame(
        {
            "product_id": w.products["product_id"].gather(seen),
            "category": w.categories["category"].gather(category_of[seen]),
            **{c: per_product[c][seen] for c in COLUMNS[:4]},
            "weeks": per_product["n"][seen].astype(np.int64),
            **{c: per_product[c][seen] for c in COLUMNS[4:]},
        }
    ).filter(pl.col("weeks") >= MIN_WEEKS)
    per_category = _fits(w.category, n_categories, w.lp, w.lq, w.weight)
    present = per_category["n"] > 0
    by_category = pl.DataFrame(
        {
            "category": w.categories["category"].filter(pl.Series(present)).cast(pl.String),
            **{c: per_category[c][present] for c in COLUMNS[:4]},
            "observations": per_category["n"][present].astype(np.int64),
            "products": np.bincount(category_of[seen], minlength=n_categories)[present].astype(
                np.int64
            ),
            **{c: per_category[c][present] for c in COLUMNS[4:]},
        }
    )
    return by_product, by_category.sort("category")


def elasticity_table(by_product: pl.DataFrame, by_category: pl.DataFrame) -> pl.DataFrame:
    """The categories then the products in one table: ``level`` (category | product) and
    ``key`` (its name or id), its category and the estimates."""
    return pl.concat(
        [
            by_category.select(
                pl.lit("category").alias("level"),
                pl.col("category").alias("key"),
                "category",
                *COLUMNS,
            ),
            by_product.select(
                pl.lit("product").alias("level"),
                pl.col("product_id").alias("key"),
                "category",
                *COLUMNS,
            ),
        ]
    )
