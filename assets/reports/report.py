"""What a report is made of (its HTML page, its JSON twin, the figures its materialization
records) and how report logic reads lake tables: by name, through the asset's declared reads."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import polars as pl

# A lake table by name; the wiring binds it to the asset's ``Reads``, so logic can only open
# tables the asset declares.
Scan = Callable[[str], pl.LazyFrame]


@dataclass(frozen=True)
class Report:
    page: str
    payload: dict[str, Any]
    figures: dict[str, Any] = field(default_factory=dict)
