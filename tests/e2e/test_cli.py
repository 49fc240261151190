"""The dagster CLI as CI uses it, as subprocesses, on the committed instance configs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import psycopg
import pytest

from tests.e2e.daemon import dagster

ROOT = Path(__file__).resolve().parents[2]
DAGSTER = str(Path(sys.executable).with_name("dagster"))
pytestmark = pytest.mark.e2e


def _env(tmp_path: Path, instance_yaml: Path, **extra: str) -> dict[str, str]:
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(instance_yaml, home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
        **extra,
    }


def _materialize(
    env: dict[str, str], select: str = "*", config: Path | None = None
) -> subprocess.CompletedProcess:
    extra = ["-c", str(config)] if config else []
    return subprocess.run(
        [DAGSTER, "asset", "materialize", "-m", "pipeline_defs", "--select", select, *extra],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_definitions_validate_and_materialize_everything_on_sqlite(tmp_path):
    env = _env(tmp_path, ROOT / "dagster.yaml")
    check = subprocess.run(
        [DAGSTER, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stderr[-2000:]
    done = _materialize(env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stderr
    with duckdb.connect(str(tmp_path / "data" / "warehouse.duckdb"), read_only=True) as con:
        views = {
            r[0]
            for r in con.execute(
                "SELECT table_schema || '.' || table_name FROM information_schema.tables"
            ).fetchall()
        }
        assert {"ingestion.raw_orders", "ingestion.raw_customers"} <= views
        assert con.execute("SELECT count(*) FROM ingestion.raw_orders").fetchone()[0] > 0
    assert (
        tmp_path / "dagster_home" / "history"
    ).exists()  # the SQLite instance under DAGSTER_HOME


def _materialize_with_config(env, select: str, config_yaml: str, tmp_path: Path):
    config = tmp_path / "config.yaml"
    config.write_text(config_yaml)
    return _materialize(env, select, config)


def test_failed_blocking_check_exits_non_zero_and_names_the_check(tmp_path):
    env = _env(tmp_path, ROOT / "dagster.yaml")
    done = _materialize_with_config(
        env,
        "group:ingestion or group:validation",
        "ops:\n  sample_landing_data:\n"
        "    config: {customers: 300, orders: 3000, duplicate_key_rate: 0.02}\n",
        tmp_path,
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "blocking asset check failed" in out
    assert "validated_orders: orders_keys_unique" in out
    assert "RUN_FAILURE" in out


def test_invalid_run_config_is_refused_before_the_run_naming_the_field(tmp_path):
    env = _env(tmp_path, ROOT / "dagster.yaml")
    done = _materialize_with_config(
        env,
        "sample_landing_data",
        "ops:\n  sample_landing_data:\n    config: {file_format: docx}\n",
        tmp_path,
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "file_format" in out and "docx" in out
    assert "RUN_START" not in out  # refused before any step ran
    assert not (tmp_path / "data" / "landing").exists()


def test_out_of_range_job_config_is_refused_before_the_run_naming_the_field(tmp_path):
    # Bounds (pydantic ge/le) are not part of Dagster's config schema; the named jobs check
    # them in a config mapping when the run is created, so no run and no step ever start.
    env = _env(tmp_path, ROOT / "dagster.yaml")
    config = tmp_path / "config.yaml"
    config.write_text("ops:\n  sample_landing_data:\n    config: {defect_rate: 0.9}\n")
    done = dagster(
        env,
        "job",
        "execute",
        "-m",
        "pipeline_defs",
        "-j",
        "generate_sample_data",
        "-c",
        str(config),
    )
    assert done.returncode != 0
    out = done.stdout + done.stderr
    assert "ops.sample_landing_data.config.defect_rate" in out
    assert "less than or equal to 0.2 (got 0.9)" in out
    assert "RUN_START" not in out
    assert not (tmp_path / "data" / "landing").exists()
    with dg.DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
        assert instance.get_run_records() == []  # no run was created


def _cli(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [DAGSTER, "asset", "materialize", "-m", "pipeline_defs", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_two_concurrent_partition_range_runs_on_the_postgres_instance(tmp_path, pg_instance_url):
    """14 daily partitions as two ranged runs at the same time, on the Postgres instance; every
    run is recorded there and nothing in SQLite under DAGSTER_HOME."""
    env = _env(
        tmp_path,
        ROOT / "instance" / "dagster.postgres.yaml",
        DAGSTER_PG_URL=pg_instance_url,
        PIPELINE_PARTITIONS="daily",
    )
    seed = _materialize_with_config(
        env,
        "sample_landing_data,raw_customers,raw_products",
        # Clean data: this test is about two ranged runs at once, not the gates. With planted
        # defects, one orphan among a week's ~100 orders already fails the 0.99 reference gate.
        "ops:\n  sample_landing_data:\n"
        "    config: {customers: 500, orders: 20000, defect_rate: 0.0}\n",
        tmp_path,
    )
    assert seed.returncode == 0, seed.stderr[-3000:]
    selection = "raw_orders,validated_orders,quarantined_orders"
    runs = [
        _cli(env, "--select", selection, "--partition-range", span)
        for span in ("2024-03-01...2024-03-07", "2024-03-08...2024-03-14")
    ]
    outputs = [p.communicate(timeout=600)[0] for p in runs]
    for proc, out in zip(runs, outputs, strict=True):
        assert proc.returncode == 0, out[-3000:]
        assert "database is locked" not in out
    days = [f"2024-03-{d:02d}" for d in range(1, 15)]
    with psycopg.connect(pg_instance_url) as con:
        statuses = [r[0] for r in con.execute("SELECT status FROM runs").fetchall()]
        partitions = {
            r[0]
            for r in con.execute(
                "SELECT partition FROM event_logs WHERE dagster_event_type = "
                "'ASSET_MATERIALIZATION' AND asset_key = %s",
                ('["validated_orders"]',),
            ).fetchall()
        }
        spans = con.execute(
            "SELECT start_time, end_time FROM runs ORDER BY create_timestamp DESC LIMIT 2"
        ).fetchall()
    assert statuses == ["SUCCESS"] * 3
    assert not (tmp_path / "dagster_home" / "history").exists()  # nothing went to SQLite
    assert partitions == set(days)
    (s1, e1), (s2, e2) = spans
    assert s1 < e2 and s2 < e1, "the two ranged runs did not overlap in time"
    lake = tmp_path / "data" / "lake"
    with duckdb.connect() as con:
        landed = con.execute(
            "SELECT count(*) FROM read_csv(?, all_varchar=true) "
            "WHERE order_ts >= '2024-03-01' AND order_ts < '2024-03-15'",
            [f"{tmp_path}/data/landing/orders/*.csv"],
        ).fetchall()
        raw = con.execute(
            "SELECT count(*) FROM read_parquet(?)",
            [f"{lake}/ingestion/raw_orders/date=*/*.parquet"],
        ).fetchall()
    assert raw[0][0] == landed[0][0] > 0
