"""Shared fixtures: a throwaway data root with real resources built on it."""

from __future__ import annotations

import os
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
