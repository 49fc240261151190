"""Which version of each validated table readers see, and which version was held back and why,
from each table's pointer (``assets.core.versions``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import polars as pl

from assets.core.storage import Lake, read_pointer

PUBLICATION_LABELS = {
    "published_version": "published version",
    "published_at": "published",
    "held_back_version": "held back version",
    "held_back_at": "held back",
    "held_back_because": "gates that failed",
}
PUBLICATION_SCHEMA = {
    "dataset": pl.String,
    "published_version": pl.String,
    "published_at": pl.Datetime("us", "UTC"),
    "held_back_version": pl.String,
    "held_back_at": pl.Datetime("us", "UTC"),
    "held_back_because": pl.String,
}


def publication_frame(lake: Lake, datasets: Sequence[str]) -> pl.DataFrame:
    """One row per dataset: its published version and the version held back, if any."""
    rows = []
    for d in datasets:
        pointer = read_pointer(lake.table_dir("validation", f"validated_{d}")) or {}
        held = pointer.get("held_back") or {}
        rows.append(
            {
                "dataset": d,
                "published_version": pointer.get("version") or "none",
                "published_at": _moment(pointer.get("published_at")),
                "held_back_version": held.get("version") or "none",
                "held_back_at": _moment(held.get("at")),
                "held_back_because": ", ".join(held.get("because") or []) or "none",
            }
        )
    return pl.DataFrame(rows, schema=PUBLICATION_SCHEMA)


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None
