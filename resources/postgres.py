"""PostgreSQL as a resource: its configuration, over ``assets.core.pg``.

The pool, streaming ``COPY`` both ways and the one-transaction table swap are the client's
(``assets.core.pg.Postgres``); this resource holds the settings Dagster shows and resolves
(``dg.EnvVar``), and one client per resource instance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl
import psycopg
from psycopg import sql
from pydantic import Field, PrivateAttr

from assets.core.pg import PgSettings, Postgres, TableLoad

_DEFAULT = PgSettings(url="")


class PostgresResource(dg.ConfigurableResource):
    """A PostgreSQL database reached through a psycopg connection pool."""

    url: str = Field(
        repr=False,
        description="postgresql://user:pass@host:port/db (use dg.EnvVar('PIPELINE_PG_URL')).",
    )
    min_size: int = Field(
        default=_DEFAULT.min_size, ge=0, description="Connections the pool keeps open."
    )
    max_size: int = Field(
        default=_DEFAULT.max_size, ge=1, description="Most connections the pool opens."
    )
    connect_timeout_s: float = Field(
        default=_DEFAULT.connect_timeout_s,
        gt=0,
        description="How long to wait for a pooled connection.",
    )
    statement_timeout_ms: int = Field(
        default=_DEFAULT.statement_timeout_ms,
        ge=0,
        description="Server-side statement_timeout per connection; 0 = none.",
    )

    _db: Postgres | None = PrivateAttr(default=None)

    @property
    def db(self) -> Postgres:
        """The database client (one pool per resource instance, opened on first use)."""
        if self._db is None:
            self._db = Postgres(
                PgSettings(
                    **{f.name: getattr(self, f.name) for f in dataclasses.fields(PgSettings)}
                )
            )
        return self._db

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the block is one transaction (commit on success, else rollback)."""
        with self.db.connection() as conn:
            yield conn

    def execute(
        self, statement: sql.Composed | sql.SQL, params: Sequence[Any] | None = None
    ) -> None:
        self.db.execute(statement, params)

    def fetch_value(
        self, statement: sql.Composed | sql.SQL, params: Sequence[Any] | None = None
    ) -> Any:
        return self.db.fetch_value(statement, params)

    def copy_to_csv(
        self, query: sql.Composable, params: Sequence[Any] | Mapping[str, Any] | None, dest: Path
    ) -> int:
        """Stream ``query``'s result to ``dest`` as CSV with a header; returns the bytes written."""
        return self.db.copy_to_csv(query, params, dest)

    def replace_table(
        self,
        name: str,
        columns: Sequence[tuple[str, pl.DataType]],
        csv_path: Path,
        *,
        key: Sequence[str] = (),
    ) -> int:
        """Replace table ``name`` with the CSV's rows, in one transaction; returns rows loaded
        (see ``Postgres.replace_table``)."""
        return self.db.replace_table(name, columns, csv_path, key=key)

    def replace_tables(self, loads: Sequence[TableLoad]) -> dict[str, int]:
        """Replace every table of ``loads`` in one transaction: all new or all old; returns rows
        loaded by table (see ``Postgres.replace_tables``)."""
        return self.db.replace_tables(loads)
