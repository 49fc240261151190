"""Each asset declares the lake tables it reads once.

One ``Reads`` gives the decorator its ``deps`` and the body its scans, so the UI's lineage and
declarative automation see every edge the code reads, and a body cannot read a table it did not
declare: ``Reads.scan`` refuses it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import dagster as dg
import polars as pl

from assets.core.storage import Lake


@dataclass(frozen=True)
class Table:
    """A lake table: its group and name, and the assets that write it (default: the asset of the
    same name; ``quality_history``, say, is written by every ``validated_<dataset>``)."""

    group: str
    name: str
    written_by: tuple[str, ...] = ()

    @property
    def asset_keys(self) -> list[dg.AssetKey]:
        return [dg.AssetKey(name) for name in (self.written_by or (self.name,))]


class UndeclaredReadError(LookupError):
    """A body asked for a table its asset does not declare."""


class Reads:
    """The tables one asset reads, by name."""

    def __init__(self, *tables: Table) -> None:
        self.tables = {t.name: t for t in tables}

    def __add__(self, other: Reads | Iterable[Table]) -> Reads:
        more = other.tables.values() if isinstance(other, Reads) else other
        return Reads(*self.tables.values(), *more)

    @property
    def deps(self) -> list[dg.AssetKey]:
        """The asset keys behind the tables, each once, for ``@dg.asset(deps=...)``."""
        return list(dict.fromkeys(key for t in self.tables.values() for key in t.asset_keys))

    def __getitem__(self, name: str) -> Table:
        try:
            return self.tables[name]
        except KeyError:
            raise UndeclaredReadError(
                f"lake table {name!r} is not among this asset's declared reads "
                f"({', '.join(sorted(self.tables)) or 'none'}); add it to its Reads"
            ) from None

    def scan(self, lake: Lake, name: str) -> pl.LazyFrame:
        table = self[name]
        return lake.scan(table.group, table.name)

    def exists(self, lake: Lake, name: str) -> bool:
        table = self[name]
        return lake.exists(table.group, table.name)
