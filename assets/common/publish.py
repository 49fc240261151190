"""The tail of every table asset: write it to the lake, expose it in DuckDB, describe it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import polars as pl

from assets.common.metadata import table_metadata
from resources import LakeResource, WarehouseResource


def publish_table(
    lake: LakeResource,
    warehouse: WarehouseResource,
    group: str,
    name: str,
    frame: pl.LazyFrame | pl.DataFrame,
    *,
    rows_in: int,
    started: float,
    descriptions: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Atomically replace ``group.name`` with ``frame``, register its view, return its metadata."""
    lake.replace(group, name, frame)
    lake.register(warehouse, group, name)
    return table_metadata(
        lake.scan(group, name),
        rows_in=rows_in,
        seconds=time.perf_counter() - started,
        descriptions=descriptions,
        location=str(lake.table_dir(group, name)),
    )


def row_count(lake: LakeResource, group: str, name: str) -> int:
    return int(lake.scan(group, name).select(pl.len()).collect().item())
