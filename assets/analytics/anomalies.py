"""Anomalies in days, products and customers, each with a score and what drove it.

- days: robust z-scores of daily revenue against the seasonal model (see forecast.py);
- products: robust z-scores of each product's weekly log revenue against its own median;
- customers: IsolationForest on log-scaled profile features; drivers are the features whose
  value is furthest (in robust z) from the population median.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl
from sklearn.ensemble import IsolationForest

from assets.core.frames import key_codes, with_codes

SEED = 0
CUSTOMER_FEATURES = [
    "order_count",
    "total_value",
    "avg_order_value",
    "support_ticket_count",
    "feature_usage_count",
    "distinct_features_used",
    "tenure_days",
]
SCHEMA = {
    "entity_type": pl.String,
    "entity_id": pl.String,
    "period": pl.Date,
    "score": pl.Float64,
    "method": pl.String,
    "drivers": pl.String,
}


def day_anomalies(days: pl.DataFrame) -> pl.DataFrame:
    """``days`` from forecast.residual_anomalies."""
    return days.select(
        pl.lit("day").alias("entity_type"),
        pl.col("date").cast(pl.String).alias("entity_id"),
        pl.col("date").alias("period"),
        pl.col("robust_z").abs().alias("score"),
        pl.lit("robust z-score vs seasonal model").alias("method"),
        pl.format(
            "revenue {} vs expected {} (z {})",
            pl.col("revenue").round(0),
            pl.col("expected_revenue").round(0),
            pl.col("robust_z").round(1),
        ).alias("drivers"),
    )


# The price_features columns ``product_anomalies`` reads.
PRODUCT_INPUTS = ["product_id", "period", "revenue"]


def log_features(frame: pl.DataFrame, columns: list[str]) -> np.ndarray:
    """``log1p`` of the columns (nulls as 0, negatives as 0) as one float64 array, built in
    place: one copy of the rows, where the chain of NumPy calls made four (2.5M customers: ~120
    MB each)."""
    X = frame.select(pl.col(columns).cast(pl.Float64).fill_null(0.0).clip(0.0)).to_numpy(
        writable=True
    )
    return np.log1p(X, out=X)


def _group_medians(frame: pl.DataFrame, codes: str, value: str, groups: int) -> np.ndarray:
    """Per row, the median of ``value`` over the rows of its group (integer ``codes`` below
    ``groups``)."""
    medians = np.full(groups, np.nan)
    by_code = frame.group_by(codes).agg(pl.col(value).median())
    medians[by_code[codes].to_numpy()] = by_code[value].to_numpy()
    return medians[frame[codes].to_numpy()]


def product_anomalies(weekly: pl.LazyFrame | pl.DataFrame, z: float = 4.0) -> pl.DataFrame:
    """Product-weeks whose log revenue is more than ``z`` robust standard deviations (scaled
    MAD) from the product's own median.

    The medians are taken by integer product code, not as windows over the string ids, which
    at `xl` (4.8M product-weeks) held 0.8 GB, twice the peak at `large`.
    """
    lf = weekly.lazy()
    products = key_codes(lf, "product_id", "_product")
    frame = (
        with_codes(lf, products, "product_id")
        .select("_product", pl.col("revenue").log1p().alias("lr"))
        .collect(engine="streaming")
    )
    lr = frame["lr"].to_numpy()
    dev = lr - _group_medians(frame, "_product", "lr", products.height)
    frame = frame.with_columns(pl.Series("lr", np.abs(dev)))
    mad = _group_medians(frame, "_product", "lr", products.height) * 1.4826
    rz = dev / np.maximum(mad, 1e-6)
    del frame, lr, dev, mad
    rows = pl.Series(np.flatnonzero(np.abs(rz) > z), dtype=pl.UInt32)
    picked = (
        lf.with_row_index("_row")
        .filter(pl.col("_row").is_in(rows.implode()))
        .select("product_id", "period", "revenue")
        .collect()
    )
    return picked.with_columns(pl.Series("rz", rz[rows.to_numpy()])).select(
        pl.lit("product").alias("entity_type"),
        pl.col("product_id").alias("entity_id"),
        pl.col("period").cast(pl.Date),
        pl.col("rz").abs().alias("score"),
        pl.lit("robust z-score of weekly revenue").alias("method"),
        pl.format(
            "weekly revenue {} (z {})", pl.col("revenue").round(0), pl.col("rz").round(1)
        ).alias("drivers"),
    )


def _top_drivers(rz: np.ndarray, names: list[str], n: int) -> pl.Series:
    """Per row of robust z-scores, its ``n`` features furthest from the median, as text such as
    ``total_value high (z 6.2), order_count high (z 4.0)``."""
    top = np.argsort(-np.abs(rz), axis=1)[:, :n]
    z = np.take_along_axis(rz, top, axis=1)
    label = np.asarray(names, dtype=object)[top]
    k = top.shape[1]
    frame = pl.DataFrame(
        [pl.Series(f"name{j}", label[:, j], dtype=pl.String) for j in range(k)]
        + [pl.Series(f"z{j}", z[:, j], dtype=pl.Float64) for j in range(k)]
    )
    parts = [
        pl.format(
            "{} {} (z {})",
            pl.col(f"name{j}"),
            pl.when(pl.col(f"z{j}") > 0).then(pl.lit("high")).otherwise(pl.lit("low")),
            pl.col(f"z{j}").round(1),
        )
        for j in range(k)
    ]
    return frame.select(pl.concat_str(parts, separator=", ").alias("drivers")).to_series()


# Rows per scoring call: scikit-learn scores a call's rows together (a decision path per tree,
# ~130 MB per 1M rows), so 2.5M customers in two calls held ~0.5 GB more than in these.
SCORE_CHUNK_ROWS = 200_000


def _score_samples(
    forest: IsolationForest,
    X: np.ndarray,
    min_rows: int = 20_000,
    max_rows: int = SCORE_CHUNK_ROWS,
) -> np.ndarray:
    """``forest.score_samples(X)`` with the rows split across threads (the trees' traversal
    releases the GIL), in parts of at most ``max_rows``. Each row's score is computed as in one
    call, trees in the same order, so the result is bit-identical; scikit-learn's own threading
    splits the trees instead and sums their depths in whatever order the threads finish. 100k
    customers: 1.05 s to 0.55 s."""
    threads = min(os.cpu_count() or 1, max(1, len(X) // min_rows))
    parts = max(threads, -(-len(X) // max_rows))
    if parts == 1:
        return forest.score_samples(X)
    with ThreadPoolExecutor(threads) as pool:
        return np.concatenate(list(pool.map(forest.score_samples, np.array_split(X, parts))))


def _forest_inputs(
    profiles: pl.LazyFrame, columns: list[str], order: pl.Series
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The forest's input (``log_features`` of ``columns`` as float32, the precision its trees
    compare in) and each column's median and scaled MAD in float64, built a column at a time.

    The whole float64 array, its float32 copy inside the forest and the deviations from the
    median held ~290 bytes a customer (2.5M customers: 1,209 MB against 643 MB at 500k); here
    one float64 column is alive at a time. The values are those of ``log_features`` cast as
    scikit-learn casts them, so the trees and scores are bit-identical. Rows are taken in
    ``order`` (row positions), as the forest's subsamples are drawn by position.
    """
    n = profiles.select(pl.len()).collect().item()
    X = np.empty((n, len(columns)), dtype=np.float32)
    med = np.empty(len(columns))
    mad = np.empty(len(columns))
    for j, c in enumerate(columns):
        col = log_features(profiles.select(pl.col(c).gather(order)).collect(), [c])[:, 0]
        X[:, j] = col
        med[j] = np.median(col)
        mad[j] = np.median(np.abs(col - med[j])) * 1.4826
    return X, med, mad


def customer_anomalies(
    profiles: pl.LazyFrame | pl.DataFrame, contamination: float = 0.01
) -> pl.DataFrame:
    """Customers the IsolationForest flags at ``contamination``, with their top drivers.

    ``profiles``: ``customer_id``, ``as_of_date`` and ``CUSTOMER_FEATURES``; a LazyFrame is read
    a column at a time, and the keys and float64 features only of the flagged customers.
    """
    lf = profiles.lazy()
    # In customer order: the lake keeps no row order, and the seeded forest draws its subsamples
    # by position, so the same customers stored in another order would get other scores.
    order = lf.select(pl.col("customer_id").arg_sort()).collect().to_series()
    X, med, mad = _forest_inputs(lf, CUSTOMER_FEATURES, order)
    # Fitted with contamination "auto", the forest does not score X to set its offset; the
    # offset is taken here from the one scoring of X, as fit(contamination=c) computes it
    # (the trees do not depend on contamination). Scoring 100k rows is most of the cost.
    forest = IsolationForest(n_estimators=200, random_state=SEED).fit(X)
    normality = _score_samples(forest, X)
    del X
    offset = np.percentile(normality, 100.0 * contamination)
    # What ``predict`` answers for contamination c (decision_function < 0).
    flagged = (normality - offset) < 0
    rows = order.gather(np.flatnonzero(flagged))
    picked = (
        lf.with_row_index("_row")
        .filter(pl.col("_row").is_in(rows.implode()))
        .select("customer_id", "as_of_date", *CUSTOMER_FEATURES)
        .sort("customer_id")  # the order of the flagged scores
        .collect()
    )
    rz = (log_features(picked, CUSTOMER_FEATURES) - med) / np.where(mad > 0, mad, 1.0)
    return pl.DataFrame(
        {
            "entity_type": "customer",
            "entity_id": picked["customer_id"],
            "period": picked["as_of_date"],
            "score": -normality[flagged],
            "method": "IsolationForest on customer profile",
            "drivers": _top_drivers(rz, CUSTOMER_FEATURES, 3),
        },
        schema=SCHEMA,
    )


def anomaly_table(*tables: pl.DataFrame) -> pl.DataFrame:
    """Anomalies of every kind in one table, by entity type and then the strongest first."""
    return pl.concat(tables).sort("entity_type", "score", descending=[False, True])
