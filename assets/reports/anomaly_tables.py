"""The anomalies table split by kind, with its figures as numbers.

analytics.anomalies keeps, per anomaly, a score and a ``drivers`` text that the analytics
stage formats from the numbers it measured ("revenue 49336.0 vs expected 2222.0 (z 7.6)").
The report reads those numbers back from that text, so the page quotes the anomaly's own
record, and refuses a text it cannot read rather than printing a wrong figure.
"""

from __future__ import annotations

import polars as pl

# The drivers' formats, as analytics.anomalies writes them (day_anomalies, product_anomalies).
NUMBER = r"(-?[0-9]+(?:\.[0-9]+)?)"
DAY_DRIVERS = rf"^revenue {NUMBER} vs expected {NUMBER} \(z {NUMBER}\)$"
PRODUCT_DRIVERS = rf"^weekly revenue {NUMBER} \(z {NUMBER}\)$"
KINDS = ("day", "product", "customer")


class AnomalyTextError(ValueError):
    """A drivers text that does not have the format the analytics stage writes."""


def _numbers(rows: pl.DataFrame, pattern: str, names: list[str]) -> pl.DataFrame:
    parsed = rows.with_columns(
        pl.col("drivers").str.extract(pattern, i + 1).cast(pl.Float64).alias(name)
        for i, name in enumerate(names)
    )
    bad = parsed.filter(pl.any_horizontal(pl.col(names).is_null()))
    if bad.height:
        first = bad.row(0, named=True)
        raise AnomalyTextError(
            f"anomalies: {bad.height} {first['entity_type']} rows have drivers the report cannot "
            f"read, e.g. {first['entity_id']}: {first['drivers']!r}"
        )
    return parsed


def anomalous_days(anomalies: pl.DataFrame) -> pl.DataFrame:
    """Days, strongest first: ``date``, ``revenue``, ``expected_revenue``, ``z`` (signed) and
    ``score`` (its size)."""
    days = anomalies.filter(pl.col("entity_type") == "day").sort("score", descending=True)
    return _numbers(days, DAY_DRIVERS, ["revenue", "expected_revenue", "z"]).select(
        pl.col("period").alias("date"), "revenue", "expected_revenue", "z", "score"
    )


def anomalous_product_weeks(anomalies: pl.DataFrame) -> pl.DataFrame:
    """Product-weeks, strongest first: ``product_id``, ``week``, ``revenue``, ``z``."""
    products = anomalies.filter(pl.col("entity_type") == "product").sort("score", descending=True)
    return _numbers(products, PRODUCT_DRIVERS, ["revenue", "z"]).select(
        pl.col("entity_id").alias("product_id"), pl.col("period").alias("week"), "revenue", "z"
    )


def anomalous_customers(anomalies: pl.DataFrame) -> pl.DataFrame:
    """Customers, most isolated first: ``customer_id``, ``score``, ``drivers``."""
    return (
        anomalies.filter(pl.col("entity_type") == "customer")
        .sort("score", descending=True)
        .select(pl.col("entity_id").alias("customer_id"), "score", "drivers")
    )


def anomaly_counts(anomalies: pl.DataFrame) -> dict[str, int]:
    """Anomalies per kind (every kind present, 0 where none was flagged)."""
    counts = dict(anomalies.group_by("entity_type").len().iter_rows())
    return {kind: int(counts.get(kind, 0)) for kind in KINDS}
