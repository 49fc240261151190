"""PostgresResource against a real PostgreSQL server (PIPELINE_TEST_PG_URL; .ci/run sets it)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from psycopg import sql

from assets.common.postgres import publish_frame
from assets.core.pg import RefusedRowsError, TableLoad, pg_type, qualified, redact_dsn
from resources.postgres import PostgresResource

pytestmark = pytest.mark.postgres


def rows(pg_url: str, table: str) -> list[tuple]:
    with psycopg.connect(pg_url) as conn:
        return conn.execute(
            sql.SQL("SELECT * FROM {} ORDER BY 1").format(qualified(table))
        ).fetchall()


def test_copy_to_csv_streams_a_parameterised_query(pg_url: str, tmp_path: Path) -> None:
    pg = PostgresResource(url=pg_url)
    out = tmp_path / "q.csv"
    query = sql.SQL("SELECT g AS n, %s::text AS tag FROM generate_series(1, 5) AS g WHERE g > %s")
    written = pg.copy_to_csv(query, ["x'; DROP TABLE y; --", 2], out)
    assert written == out.stat().st_size
    frame = pl.read_csv(out)
    assert frame["n"].to_list() == [3, 4, 5]
    assert frame["tag"].unique().to_list() == ["x'; DROP TABLE y; --"]  # a value, never SQL
    pg.close()


def test_publish_replaces_the_table_and_a_failed_publish_keeps_the_old_rows(
    pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    pg = PostgresResource(url=pg_url)
    table = f"{pg_schema}.scores"
    first = pl.LazyFrame(
        {
            "customer_id": ["C1", "C2"],
            "score": [0.5, None],
            "band": ["high", ""],
            "at": [datetime(2024, 1, 2, 3, 4, 5), None],
            "tags": [["a", "b"], None],
        },
    )
    assert publish_frame(pg, first, table, tmp_path, key=("customer_id",)) == 2
    got = rows(pg_url, table)
    assert got[0][:3] == ("C1", 0.5, "high")
    assert got[1][1] is None and got[1][2] == ""  # null stays null, "" stays ""
    assert str(got[0][3]) == "2024-01-02 03:04:05"
    assert got[0][4] == '["a","b"]'

    second = pl.LazyFrame({"customer_id": ["C3"], "score": [0.9], "band": ["low"]})
    assert publish_frame(pg, second, table, tmp_path, key=("customer_id",)) == 1
    assert [r[0] for r in rows(pg_url, table)] == ["C3"]

    # A repeated key fails the primary key inside the transaction: nothing changes, and the
    # step fails without retries (the same rows would be refused again).
    broken = pl.LazyFrame({"customer_id": ["C4", "C4"], "score": [1.0, 2.0], "band": ["a", "b"]})
    with pytest.raises(dg.Failure) as failure:
        publish_frame(pg, broken, table, tmp_path, key=("customer_id",))
    assert not failure.value.allow_retries
    assert f"PostgreSQL refused {table}:" in str(failure.value.description)
    assert "C4" not in str(failure.value.description)  # PostgreSQL's DETAIL quotes the key
    assert rows(pg_url, table) == [("C3", 0.9, "low")]
    with psycopg.connect(pg_url) as conn:
        left = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s AND tablename LIKE '_staging%%'",
            [pg_schema],
        ).fetchone()
    assert left == (0,), "the staging table must roll back with the failed publish"
    pg.close()


@pytest.mark.parametrize(
    ("text", "dtype", "reason"),
    [
        ("n\n1\nsecret-7f3a\n", pl.Int64, "invalid input syntax for type bigint"),
        ("n\nok\nsecret-\x00-7f3a\n", pl.String, "invalid byte sequence"),
    ],
    ids=["uncastable", "nul"],
)
def test_refused_rows_name_table_row_and_column_never_the_value(
    pg_url: str, pg_schema: str, tmp_path: Path, text: str, dtype: pl.DataType, reason: str
) -> None:
    csv_path = tmp_path / "t.csv"
    csv_path.write_text(text)
    pg = PostgresResource(url=pg_url)
    try:
        with pytest.raises(RefusedRowsError) as refused:
            pg.replace_tables([TableLoad(f"{pg_schema}.t", (("n", dtype),), csv_path)])
    finally:
        pg.close()
    message = str(refused.value)
    assert message.startswith(f"PostgreSQL refused row 2 of {pg_schema}.t")
    assert reason in message
    assert "7f3a" not in message
    with psycopg.connect(pg_url) as conn:
        tables = conn.execute(
            "SELECT count(*) FROM pg_tables WHERE schemaname = %s", [pg_schema]
        ).fetchone()
    assert tables == (0,)


def test_bad_password_error_does_not_show_it(pg_url: str) -> None:
    bad = pg_url.replace("pipeline:pipeline@", "pipeline:hunter2-secret@")
    pg = PostgresResource(url=bad, connect_timeout_s=3)
    with pytest.raises(ConnectionError) as err:
        pg.fetch_value(sql.SQL("SELECT 1"))
    assert "hunter2-secret" not in str(err.value)
    assert "hunter2-secret" not in repr(pg)


def test_redaction_and_types_and_names() -> None:
    assert redact_dsn("postgresql://u:p4ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_dsn("host=h password=p4ss user=u") == "host=h password=*** user=u"
    assert pg_type(pl.Int64()) == "bigint"
    assert pg_type(pl.Datetime("us", "UTC")) == "timestamptz"
    assert pg_type(pl.Datetime("us")) == "timestamp"
    assert pg_type(pl.String()) == "text"
    with pytest.raises(ValueError, match="not a table name"):
        qualified("a.b.c")
