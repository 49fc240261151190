"""Shared fixtures: a throwaway data root with real resources built on it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline_defs.settings import Settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
        }
    )


@pytest.fixture
def pg_url() -> str:
    """A PostgreSQL DSN for tests that need a real server; .ci/run always sets it."""
    url = os.environ.get("PIPELINE_TEST_PG_URL")
    if not url:
        pytest.skip("set PIPELINE_TEST_PG_URL=postgresql://user:pass@host/db to run Postgres tests")
    return url


@pytest.fixture
def unused_port() -> int:
    """A loopback port nothing listens on (bound, read, released)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def pg_schema(pg_url: str):
    """A fresh PostgreSQL schema for one test, dropped afterwards."""
    import uuid

    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's standalone S3-compatible server as a subprocess on a free loopback port."""
    import socket
    import subprocess
    import sys

    from tests.servers import wait_until_up

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    if not wait_until_up(url + "/moto-api/", proc, 30):
        proc.kill()
        raise RuntimeError("moto server did not start")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


@pytest.fixture
def s3_env(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The standard AWS variables pointing boto3 and Polars at the moto server, plus a bucket."""
    import uuid

    import boto3

    env = {
        "AWS_ENDPOINT_URL": moto_endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing-secret",
        "AWS_REGION": "us-east-1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    bucket = f"b-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1").create_bucket(
        Bucket=bucket
    )
    return {**env, "BUCKET": bucket}


@pytest.fixture
def pg_instance_url(pg_url: str) -> Iterator[str]:
    """A fresh database on the test server for one test's Dagster instance, dropped afterwards:
    tests that run at the same time (tasks.py test runs them in parallel) never share one."""
    import uuid
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    name = f"dagster_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield urlunsplit(urlsplit(pg_url)._replace(path=f"/{name}"))
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real redis-server of this test's own, on a Unix socket; .ci/run installs the binary."""
    import tempfile

    from tests.servers import start_redis

    # A short folder: a Unix socket path must fit in 107 bytes, and tmp_path may not.
    with tempfile.TemporaryDirectory(prefix="redis-") as folder:
        started = start_redis(Path(folder))
        if started is None:
            pytest.skip("no redis-server binary (apt-get install redis-server) for stream tests")
        proc, url = started
        try:
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=10)
