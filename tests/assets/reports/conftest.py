"""One run of the whole pipeline, shared by the report tests that read its pages and tables."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import dagster as dg
import psycopg
import pytest
from psycopg import sql

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings


@dataclass(frozen=True)
class PipelineRun:
    result: dg.ExecuteInProcessResult
    settings: Settings
    instance: dg.DagsterInstance  # kept open: the pipeline report's timings are read from it
    pg_schema: str


@pytest.fixture(scope="session")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PipelineRun]:
    """The whole pipeline once; with a test database, postgres_exports publishes into it too."""
    root = tmp_path_factory.mktemp("reports")
    env = {"PIPELINE_DATA_DIR": str(root / "data"), "PIPELINE_DATASETS_DIR": str(root / "datasets")}
    pg_url = os.environ.get("PIPELINE_TEST_PG_URL")
    pg_schema = f"reports_{uuid.uuid4().hex[:8]}"
    config = {"ops": {"sample_landing_data": {"config": {"customers": 4000, "orders": 80_000}}}}
    if pg_url:
        env["PIPELINE_PG_URL"] = pg_url
        config["ops"]["postgres_exports"] = {"config": {"schema_name": pg_schema}}
    settings = Settings.from_env(env)
    d = build_definitions(settings)
    with dg.instance_for_test() as instance:
        with pytest.MonkeyPatch.context() as mp:
            if pg_url:
                mp.setenv("PIPELINE_PG_URL", pg_url)
            result = dg.materialize(
                d.assets,
                resources=d.resources,
                instance=instance,
                run_config=config,
                raise_on_error=False,
            )
        yield PipelineRun(result, settings, instance, pg_schema)
    if pg_url:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(pg_schema))
            )
