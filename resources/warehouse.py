"""The DuckDB warehouse: every lake table is queryable as a view ``<group>.<table>``."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping, Sequence

import duckdb
from dagster_duckdb import DuckDBResource

_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def _quote_ident(name: str) -> str:
    if not _IDENT.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return f'"{name}"'


def _quote_literal(text: str) -> str:
    # DDL cannot take bound parameters; a literal is quoted by doubling single quotes.
    return "'" + text.replace("'", "''") + "'"


def _parquet_source(files: str | Sequence[str]) -> str:
    """A glob, or a list of files (a versioned table's published parts), as a DuckDB literal."""
    if isinstance(files, str):
        return _quote_literal(files)
    return "[" + ", ".join(_quote_literal(f) for f in files) + "]"


class WarehouseResource(DuckDBResource):
    """dagster-duckdb's resource plus view registration over lake Parquet."""

    lock_wait_seconds: float = 30.0

    def register_views(self, group: str, globs: Mapping[str, str | Sequence[str]]) -> None:
        """Create or replace ``group.<name>`` as a view over each name's Parquet parts, all in one
        connection and one transaction: opening a DuckDB connection costs ~30 ms."""
        self._replace(group, globs, "VIEW")

    def copy_table(self, group: str, name: str, parquet_glob: str | Sequence[str]) -> int:
        """Create or replace ``group.name`` as a table holding a copy of the Parquet parts, in one
        transaction (readers see the old table or the new one); returns its row count."""
        self._replace(group, {name: parquet_glob}, "TABLE")
        with self.get_connection() as con:
            row = con.execute(
                f"SELECT count(*) FROM {_quote_ident(group)}.{_quote_ident(name)}"  # noqa: S608 - identifiers checked
            ).fetchone()
        return int(row[0]) if row else 0

    def _replace(self, group: str, globs: Mapping[str, str | Sequence[str]], kind: str) -> None:
        schema = _quote_ident(group)
        statements = [
            f"CREATE OR REPLACE {kind} {schema}.{_quote_ident(name)} AS SELECT * FROM "  # noqa: S608 - identifiers checked, literal quoted
            f"read_parquet({_parquet_source(parquet_glob)}, union_by_name = true)"
            for name, parquet_glob in globs.items()
        ]
        deadline = time.monotonic() + self.lock_wait_seconds
        while True:
            try:
                with self.get_connection() as con:
                    con.execute("BEGIN")
                    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                    for sql in statements:
                        con.execute(sql)
                    con.execute("COMMIT")
                return
            except duckdb.IOException as exc:
                # Another process holds the file's write lock; it only does so for milliseconds.
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
