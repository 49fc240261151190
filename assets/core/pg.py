"""PostgreSQL as a source and a sink, without Dagster: psycopg 3 with a connection pool, streaming
COPY both ways.

Reads stream ``COPY (query) TO STDOUT`` into a local CSV file block by block, so memory does not
grow with the table. Publishing copies each table into a staging table and swaps them all in
within one transaction: readers see the old tables or the new ones, and a failed publish changes
nothing.
Every identifier is composed with ``psycopg.sql.Identifier`` and every value is a bound parameter.

The password is taken out of the connection string before psycopg sees it and given to each
connection as its own keyword: libpq and the pool's logger echo connection strings (a ``%`` that
is not an escape, a raw ``@``) but never a password keyword. A URL's user info ends at its last
``@``, and a ``%`` that does not start an escape is a plain ``%``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, LiteralString

import polars as pl
import psycopg
from psycopg import conninfo as pg_conninfo
from psycopg import sql
from psycopg_pool import ConnectionPool

BLOCK = 4 * 1024 * 1024
# A URL's password runs to the last "@" before the host (it may hold "@" itself).
_PASSWORD = re.compile(
    r"(://[^:/@\s]+:)(\S*)(@)(?=[^@/\s]*(?:[/?\s]|$))|(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)",
    re.IGNORECASE,
)
_URL = re.compile(r"^(postgres(?:ql)?://)(.*)$", re.IGNORECASE | re.DOTALL)


def redact_dsn(text: str) -> str:
    """Any password in a DSN or keyword conninfo replaced by ***."""
    return _PASSWORD.sub(
        lambda m: f"{m[1]}***{m[3]}" if m[1] else f"{m[4]}***",
        text,
    )


class ConnectionStringError(ValueError):
    """A connection string that cannot be read; the message never quotes it."""


class RefusedRowsError(Exception):
    """PostgreSQL refused a table's rows (a value it cannot store, a repeated key): a property
    of the data, which a retry would not change. The publish was rolled back whole.

    The message names the table, the row and column where PostgreSQL says, and its reason with
    any quoted value left out: its DETAIL and CONTEXT quote the values (a repeated key, the
    text that failed a cast), which may be personal data.
    """

    def __init__(self, table: str, exc: psycopg.Error) -> None:
        diag = exc.diag
        where = re.search(r"line (\d+)(?:, column ([^:\s]+))?", diag.context or "")
        # Line 1 of the CSV is its header.
        rows = f"row {int(where[1]) - 1:,} of {table}" if where and int(where[1]) > 1 else table
        column = f", column {where[2]}" if where and where[2] else ""
        reason = _QUOTED_VALUE.sub(": (value left out)", diag.message_primary or type(exc).__name__)
        super().__init__(
            f"PostgreSQL refused {rows}{column}: {reason} (SQLSTATE {diag.sqlstate or '?'}). "
            "No table was replaced, and a retry would be refused the same."
        )
        self.table = table
        self.sqlstate = diag.sqlstate


# A reason's trailing quoted value: `invalid input syntax for type bigint: "abc"`.
_QUOTED_VALUE = re.compile(r':\s*".*"\s*$', re.DOTALL)


def split_password(dsn: str) -> tuple[str, str | None]:
    """``dsn`` without its password, and the password (None when it has none).

    The message of a refusal names the problem, never the string, which holds the password.
    """
    url = _URL.match(dsn.strip())
    if url is None:
        try:
            params = pg_conninfo.conninfo_to_dict(dsn)
        except psycopg.ProgrammingError:
            # libpq's message quotes the string ('missing "=" after "<a word of it>"').
            raise ConnectionStringError(
                "the PostgreSQL connection string is not valid keyword=value syntax"
            ) from None
        password = params.pop("password", None)
        rest = pg_conninfo.make_conninfo("", **params)
        return rest, None if password is None else str(password)
    scheme, rest = url.groups()
    parts = urllib.parse.urlsplit("//" + rest)
    if "@" not in parts.netloc:
        if "@" in rest:
            raise ConnectionStringError(
                "the PostgreSQL URL's user info holds '/', '?' or '#': percent-encode them "
                "(%2F, %3F, %23)"
            )
        return dsn, None
    userinfo, _, hosts = parts.netloc.rpartition("@")
    user, colon, password = userinfo.partition(":")
    user = urllib.parse.quote(urllib.parse.unquote(user), safe="")
    tail = rest[len(parts.netloc) :]
    return f"{scheme}{user}@{hosts}{tail}", urllib.parse.unquote(password) if colon else None


def describe_target(conninfo: str) -> str:
    """``user@host:port/dbname`` of a password-free connection string, for messages."""
    try:
        params = pg_conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "an unreadable connection string"
    host = params.get("host") or params.get("hostaddr") or "the local socket"
    port = params.get("port") or "5432"
    user = f"{params['user']}@" if params.get("user") else ""
    return f"{user}{host}:{port}/{params.get('dbname') or params.get('user') or '(default)'}"


def qualified(name: str) -> sql.Composed:
    """``schema.table`` (or ``table``) as quoted identifiers."""
    parts = name.split(".")
    if not 1 <= len(parts) <= 2 or not all(parts):
        raise ValueError(f"not a table name: {name!r} (expected table or schema.table)")
    return sql.SQL(".").join(sql.Identifier(p) for p in parts)


@dataclass(frozen=True)
class PgSettings:
    """How to reach the database; the ``postgres`` resource builds one from its configuration,
    and its defaults are these."""

    url: str = field(repr=False)
    min_size: int = 1
    max_size: int = 4
    connect_timeout_s: float = 10.0
    statement_timeout_ms: int = 0


class Postgres:
    """A PostgreSQL database reached through a psycopg connection pool (opened on first use)."""

    def __init__(self, settings: PgSettings) -> None:
        self.settings = settings
        self._pool: ConnectionPool | None = None

    def _redact(self, text: str, password: str | None) -> str:
        text = redact_dsn(text)
        return text.replace(password, "***") if password else text

    def _failure(self, conninfo: str, kwargs: dict[str, Any], password: str | None) -> str:
        """Why no connection could be made: one direct attempt, for libpq's own reason (the pool
        only logs it and raises a timeout)."""
        try:
            psycopg.connect(conninfo, **kwargs).close()
        except Exception as exc:
            reason = " ".join(str(exc).split())  # libpq's message spans lines
            return self._redact(reason, password) or type(exc).__name__
        return f"no connection within {self.settings.connect_timeout_s:g} s"

    def _get_pool(self) -> ConnectionPool:
        if self._pool is None:
            conninfo, password = split_password(self.settings.url)
            kwargs: dict[str, Any] = {
                "connect_timeout": max(1, int(self.settings.connect_timeout_s))
            }
            if password is not None:
                kwargs["password"] = password
            if self.settings.statement_timeout_ms:
                kwargs["options"] = f"-c statement_timeout={self.settings.statement_timeout_ms}"
            try:
                self._pool = ConnectionPool(
                    conninfo,
                    min_size=self.settings.min_size,
                    max_size=self.settings.max_size,
                    timeout=self.settings.connect_timeout_s,
                    kwargs=kwargs,
                    open=True,
                    name="dq-pipeline",
                )
                self._pool.wait(timeout=self.settings.connect_timeout_s)
            except Exception:
                if self._pool is not None:
                    self._pool.close()
                self._pool = None
                reason = self._failure(conninfo, kwargs, password)
                raise ConnectionError(
                    f"cannot connect to PostgreSQL at {describe_target(conninfo)}: {reason}"
                ) from None
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool = None

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled connection; the block is one transaction (commit on success, else rollback)."""
        with self._get_pool().connection() as conn:
            yield conn

    def execute(
        self, statement: sql.Composed | sql.SQL, params: Sequence[Any] | None = None
    ) -> None:
        with self.connection() as conn:
            conn.execute(statement, params)

    def fetch_value(
        self, statement: sql.Composed | sql.SQL, params: Sequence[Any] | None = None
    ) -> Any:
        with self.connection() as conn:
            row = conn.execute(statement, params).fetchone()
            return None if row is None else row[0]

    def copy_to_csv(
        self, query: sql.Composable, params: Sequence[Any] | Mapping[str, Any] | None, dest: Path
    ) -> int:
        """Stream ``query``'s result to ``dest`` as CSV with a header; returns the bytes written."""
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT csv, HEADER true)").format(query)
        written = 0
        with (
            self.connection() as conn,
            conn.cursor() as cur,
            dest.open("wb") as out,
            cur.copy(statement, params) as copy,
        ):
            for block in copy:
                out.write(block)
                written += len(block)
        return written

    def replace_table(
        self,
        name: str,
        columns: Sequence[tuple[str, pl.DataType]],
        csv_path: Path,
        *,
        key: Sequence[str] = (),
    ) -> int:
        """Replace table ``name`` with the CSV's rows, in one transaction; returns rows loaded
        (see ``replace_tables``)."""
        return self.replace_tables([TableLoad(name, tuple(columns), csv_path, tuple(key))])[name]

    def replace_tables(self, loads: Sequence[TableLoad]) -> dict[str, int]:
        """Replace every table of ``loads`` with its CSV's rows, all in one transaction; returns
        the rows loaded by table.

        Each table's rows go into a fresh staging table (``COPY FROM STDIN``) and its key becomes
        the staging table's primary key; only when every table has loaded are the old tables
        dropped and the staging tables renamed. Any failure (a bad value in the last table, a
        repeated key, a lost connection) rolls everything back: readers see all the old tables
        or all the new ones, never a mix.
        """
        counts: dict[str, int] = {}
        with self.connection() as conn, conn.cursor() as cur:
            staged = []
            for load in loads:
                try:
                    staged.append((load, _stage(cur, load)))
                except (psycopg.errors.DataError, psycopg.errors.IntegrityError) as exc:
                    raise RefusedRowsError(load.name, exc) from None
            for load, staging in staged:
                table = load.name.split(".")[-1]
                cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(qualified(load.name)))
                cur.execute(
                    sql.SQL("ALTER TABLE {} RENAME TO {}").format(staging, sql.Identifier(table))
                )
                cur.execute(sql.SQL("SELECT count(*) FROM {}").format(qualified(load.name)))
                row = cur.fetchone()
                counts[load.name] = int(row[0]) if row else 0
        return counts


@dataclass(frozen=True)
class TableLoad:
    """One table to publish: its ``schema.table`` name, columns, CSV file and key."""

    name: str
    columns: tuple[tuple[str, pl.DataType], ...]
    csv_path: Path
    key: tuple[str, ...] = ()


def _stage(cur: psycopg.Cursor, load: TableLoad) -> sql.Composed:
    """A fresh staging table beside ``load.name`` holding the CSV's rows; returns its name."""
    qualified(load.name)  # refuses a malformed name before anything runs
    parts = load.name.split(".")
    schema = parts[0] if len(parts) == 2 else None
    staging_name = f"_staging_{parts[-1]}"[:63]
    staging = qualified(f"{schema}.{staging_name}" if schema else staging_name)
    column_defs = sql.SQL(", ").join(
        sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(pg_type(t))) for c, t in load.columns
    )
    if schema:
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
    cur.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(staging))
    cur.execute(sql.SQL("CREATE TABLE {} ({})").format(staging, column_defs))
    copy_sql = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT csv, HEADER true)").format(
        staging, sql.SQL(", ").join(sql.Identifier(c) for c, _ in load.columns)
    )
    with cur.copy(copy_sql) as copy, load.csv_path.open("rb") as fh:
        while block := fh.read(BLOCK):
            copy.write(block)
    if load.key:
        cur.execute(
            sql.SQL("ALTER TABLE {} ADD PRIMARY KEY ({})").format(
                staging, sql.SQL(", ").join(sql.Identifier(k) for k in load.key)
            )
        )
    return staging


def pg_type(dtype: pl.DataType) -> LiteralString:
    """The PostgreSQL column type for a Polars dtype (text for anything without a match)."""
    if isinstance(dtype, pl.Datetime):
        return "timestamptz" if dtype.time_zone else "timestamp"
    if isinstance(dtype, pl.Decimal) or dtype == pl.UInt64:
        return "numeric"
    if dtype in (pl.Int8, pl.Int16, pl.UInt8):
        return "smallint"
    if dtype in (pl.Int32, pl.UInt16):
        return "integer"
    if dtype.is_integer():
        return "bigint"
    if dtype == pl.Float32:
        return "real"
    if dtype == pl.Float64:
        return "double precision"
    if dtype == pl.Boolean:
        return "boolean"
    if dtype == pl.Date:
        return "date"
    return "text"
