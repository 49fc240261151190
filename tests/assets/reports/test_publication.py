"""The quality report's "Published versions" rows, read from real pointers."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from assets.core.storage import LakeAt, sink_parquet_atomic
from assets.core.versions import hold_back, new_version, publish
from assets.reports.publication import publication_frame

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def test_each_dataset_shows_its_published_version_and_the_one_held_back_with_why(tmp_path: Path):
    lake = LakeAt(str(tmp_path))
    table = lake.table_dir("validation", "validated_orders")
    first = new_version(table, T0)
    sink_parquet_atomic(pl.DataFrame({"a": [1]}), first.directory / "part-full.parquet")
    publish(first, [first.directory / "part-full.parquet"], None, T0)
    later = T0.replace(hour=13)
    second = new_version(table, later)
    hold_back(second, ["orders_keys_unique", "orders_validity_at_least_threshold"], later)

    rows = publication_frame(lake, ["orders", "customers"]).to_dicts()
    assert rows == [
        {
            "dataset": "orders",
            "published_version": first.name,
            "published_at": T0,
            "held_back_version": second.name,
            "held_back_at": later,
            "held_back_because": "orders_keys_unique, orders_validity_at_least_threshold",
        },
        {
            "dataset": "customers",
            "published_version": "none",
            "published_at": None,
            "held_back_version": "none",
            "held_back_at": None,
            "held_back_because": "none",
        },
    ]
