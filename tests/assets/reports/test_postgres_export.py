"""postgres_exports publishes every table or none, against a real PostgreSQL server."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import polars as pl
import psycopg
import pytest
from psycopg import sql

from assets.core.storage import LakeAt
from assets.reports.defs import postgres_exports
from assets.reports.postgres_export import POSTGRES_TABLES
from resources import LakeResource
from resources.postgres import PostgresResource

pytestmark = pytest.mark.postgres


def write_tables(root: Path, tag: str, *, broken: str | None = None) -> None:
    """One small table per published name; ``broken``'s text holds a NUL, which PostgreSQL
    refuses in text."""
    lake = LakeAt(str(root))
    for table, (group, key) in POSTGRES_TABLES.items():
        value = f"{tag}\x00" if table == broken else tag
        columns = {k: [f"{tag}-1", f"{tag}-2"] for k in key or ("row",)}
        lake.replace(group, table, pl.DataFrame({**columns, "tag": [value, value]}))


def published_tags(pg_url: str, schema: str) -> dict[str, set[str]]:
    with psycopg.connect(pg_url) as conn:
        return {
            table: {
                r[0]
                for r in conn.execute(
                    sql.SQL("SELECT tag FROM {}").format(sql.Identifier(schema, table))
                )
            }
            for table in POSTGRES_TABLES
        }


def export(root: Path, pg_url: str, schema: str) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        [postgres_exports],
        resources={"lake": LakeResource(root=str(root)), "postgres": PostgresResource(url=pg_url)},
        run_config={"ops": {"postgres_exports": {"config": {"schema_name": schema}}}},
        raise_on_error=False,
    )


def test_a_table_postgres_refuses_leaves_every_table_as_it_was(
    pg_url: str, pg_schema: str, tmp_path: Path
) -> None:
    write_tables(tmp_path, "old")
    assert export(tmp_path, pg_url, pg_schema).success
    assert published_tags(pg_url, pg_schema) == {t: {"old"} for t in POSTGRES_TABLES}

    second = list(POSTGRES_TABLES)[1]
    write_tables(tmp_path, "new", broken=second)
    failed = export(tmp_path, pg_url, pg_schema)
    assert not failed.success
    # Refused rows are a property of the data: the step fails at once, naming the table and
    # the row, instead of waiting out its retries to be refused again.
    events = {e.event_type_value for e in failed.all_events}
    assert "STEP_UP_FOR_RETRY" not in events
    failure = failed.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None
    assert f"PostgreSQL refused row 1 of {pg_schema}.{second}" in failure.message
    # The first table loaded fine, but the publish is one transaction: it stays old too.
    assert published_tags(pg_url, pg_schema) == {t: {"old"} for t in POSTGRES_TABLES}

    write_tables(tmp_path, "new")
    assert export(tmp_path, pg_url, pg_schema).success
    assert published_tags(pg_url, pg_schema) == {t: {"new"} for t in POSTGRES_TABLES}
