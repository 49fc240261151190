"""PostgreSQL passwords never reach stderr, logs or the Dagster instance, whatever they hold, and a
failed connection says where it went and why: a real server (PIPELINE_TEST_PG_URL) and real
Dagster runs in a subprocess, whose every output is searched for a planted secret."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from assets.core.pg import ConnectionStringError, PgSettings, Postgres, redact_dsn, split_password

pytestmark = pytest.mark.postgres
ROOT = Path(__file__).resolve().parents[2]
PLANTED = "PLANTEDpw"

RUN = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from psycopg import sql
    from resources.postgres import PostgresResource

    @dg.asset
    def pg_probe(postgres: PostgresResource) -> None:
        postgres.fetch_value(sql.SQL("SELECT 1"))

    home, url = sys.argv[1], sys.argv[2]
    with dg.DagsterInstance.local_temp(home) as instance:
        resource = PostgresResource(url=url, connect_timeout_s=2)
        result = dg.materialize(
            [pg_probe], instance=instance, resources={"postgres": resource}, raise_on_error=False
        )
        failure = next(e for e in result.all_events if e.is_step_failure)
        print(failure.event_specific_data.error.to_string())
    """
)


def _swap_password(pg_url: str, user: str, password: str) -> str:
    conninfo, _ = split_password(pg_url)
    rest = conninfo.split("@", 1)[1]
    return f"postgresql://{user}:{password}@{rest}"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "password",
    [f"{PLANTED}-a%zz-{PLANTED}", f"{PLANTED}-a@{PLANTED}-tail"],
    ids=["percent", "at-sign"],
)
def test_a_refused_password_is_nowhere_in_stderr_logs_or_the_instance(
    pg_url: str, tmp_path: Path, password: str
) -> None:
    home = tmp_path / "dagster_home"
    home.mkdir()
    url = _swap_password(pg_url, "pipeline", password)
    done = subprocess.run(
        [sys.executable, "-c", RUN, str(home), url],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=180,
    )
    error = done.stdout.strip()
    assert "cannot connect to PostgreSQL at pipeline@127.0.0.1:" in error, done.stderr[-2000:]
    assert "password authentication failed" in error  # the server's own reason
    assert PLANTED not in done.stdout and PLANTED not in done.stderr
    files = [p for p in home.rglob("*") if p.is_file()]
    assert any(p.suffix == ".err" for p in files), "compute logs were captured"
    assert any(p.name == "runs.db" for p in files)
    leaked = [str(p.relative_to(home)) for p in files if PLANTED.encode() in p.read_bytes()]
    assert leaked == []


@pytest.fixture
def odd_role(pg_url: str) -> Iterator[tuple[str, str]]:
    """A login role whose password holds '%' (not an escape), '@' and ':'."""
    role, password = f"r_{uuid.uuid4().hex[:10]}", "odd%zz@pa:ss%41"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(role), sql.Literal(password)
            )
        )
    yield role, password
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_password_with_percent_at_and_colon_connects_as_written(
    pg_url: str, odd_role: tuple[str, str]
) -> None:
    role, password = odd_role
    # '%41' is an escape (an 'A'), so it is written encoded; the rest is written raw.
    written = password.replace("%41", "%2541")
    pg = Postgres(PgSettings(url=_swap_password(pg_url, role, written), connect_timeout_s=3))
    try:
        assert pg.fetch_value(sql.SQL("SELECT current_user")) == role
    finally:
        pg.close()


def test_a_refused_connection_names_host_port_database_and_reason(unused_port: int) -> None:
    url = f"postgresql://someone:{PLANTED}@127.0.0.1:{unused_port}/warehouse_db"
    pg = Postgres(PgSettings(url=url, connect_timeout_s=1))
    with pytest.raises(ConnectionError) as err:
        pg.fetch_value(sql.SQL("SELECT 1"))
    message = str(err.value)
    assert f"someone@127.0.0.1:{unused_port}/warehouse_db" in message
    assert "Connection refused" in message
    assert "pool initialization" not in message and PLANTED not in message


def test_a_malformed_keyword_string_is_refused_without_quoting_it() -> None:
    with pytest.raises(ConnectionStringError) as err:
        split_password(f"host=h password={PLANTED} tail{PLANTED}")
    assert PLANTED not in str(err.value)
    with pytest.raises(ConnectionStringError, match="percent-encode") as err:
        split_password(f"postgresql://u:{PLANTED}/x@h/db")
    assert PLANTED not in str(err.value)


def test_redaction_hides_a_password_that_holds_an_at_sign() -> None:
    assert redact_dsn("postgresql://u:p@ss@h:5432/db") == "postgresql://u:***@h:5432/db"
    assert redact_dsn("host=h password='p ss' user=u") == "host=h password=*** user=u"
    assert split_password("postgresql://u:a%zz@b@h/db?application_name=x@y") == (
        "postgresql://u@h/db?application_name=x@y",
        "a%zz@b",
    )
    assert split_password("host=h password='p ss' user=u") == ("user=u host=h", "p ss")
