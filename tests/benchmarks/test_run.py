"""The benchmark's bookkeeping: what it counts as input, and what it reports per stage."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import dagster as dg
import pytest

from benchmarks.contenders import CONTENDERS
from benchmarks.instance import INSTANCE_ENV, bench_instance
from benchmarks.landing import source_rows
from benchmarks.run import main, result_path
from benchmarks.summary import stage_throughput, summarise


def test_source_rows_counts_data_rows_of_every_entity(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "a.csv").write_text("id,x\n1,a\n2,b\n")
    (tmp_path / "orders" / "b.csv").write_text("id,x,y\n3,c,\n")  # another header is fine
    (tmp_path / "customers").mkdir()
    (tmp_path / "customers" / "c.csv").write_text('id,note\n1,"two\nlines"\n')
    (tmp_path / "manifest.json").write_text("{}")
    assert source_rows(tmp_path) == 4


def test_results_are_named_by_scale_and_date_and_a_non_default_instance(tmp_path):
    assert (
        result_path(tmp_path, "large", "sqlite", "2026-12-02") == tmp_path / "large-2026-12-02.json"
    )
    assert (
        result_path(tmp_path, "medium", "postgres", "2026-12-02")
        == tmp_path / "medium-2026-12-02-postgres.json"
    )


def test_stage_throughput_is_source_rows_and_csv_mb_per_stage_second():
    got = stage_throughput({"ingestion": 2.0, "validation": 4.0, "empty": 0.0}, 1_000, 100.0)
    assert got == {
        "stage_rows_per_s": {"ingestion": 500, "validation": 250},
        "stage_mb_per_s": {"ingestion": 50.0, "validation": 25.0},
    }


def _rep(scale: float) -> dict:
    stages = {"ingestion": 2.0 * scale, "validation": 4.0 * scale}
    one = {
        "stages": stages,
        "process_wall_s": 10.0 * scale,
        "cpu_s": 15.0 * scale,
        "peak_rss_mb": 100.0 * scale,
        "stage_cpu_s": {s: 1.5 * t for s, t in stages.items()},
        "stage_peak_rss_mb": dict.fromkeys(
            ("ingestion", "validation", "enrichment", "features", "analytics", "reports"), 50.0
        ),
        "dagster_overhead_s": 1.0,
        "run_wall_s": 9.0,
        "event_writes_by_stage_s": {},
        "event_writes_in_steps_s": 0.1,
        "event_writes": 10,
    }
    one["stages"] = {**stages, "count_rows": 1.0, "copy_parquet": 1.0}
    return dict.fromkeys(CONTENDERS, one)


def test_summary_reports_median_cpu_and_throughput_per_stage():
    summary = summarise([_rep(1.0), _rep(6.0), _rep(2.0)], csv_mb=80.0, rows=8_000)
    pandas = summary["pandas"]
    assert pandas["stages_s"]["validation"] == 8.0  # the median of 4, 24 and 8
    assert pandas["stage_cpu_s"]["validation"] == 12.0
    assert pandas["stage_mb_per_s"]["validation"] == 10.0
    assert summary["pipeline_by_stage"]["stage_rows_per_s"]["ingestion"] == 2_000


@pytest.fixture
def instance_db_url(pg_url: str) -> str:
    """A database of its own for a Dagster instance's tables, on the test server."""
    import psycopg

    parts = urlsplit(pg_url)
    with psycopg.connect(pg_url, autocommit=True) as con:
        if not con.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [INSTANCE_DB]
        ).fetchone():
            con.execute(f'CREATE DATABASE "{INSTANCE_DB}"')
    return urlunsplit(parts._replace(path=f"/{INSTANCE_DB}"))


INSTANCE_DB = "pipeline_dagster_instance"


@dg.asset
def one_row() -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"rows": 1})


def test_postgres_instance_is_the_shipped_config_and_stores_runs_in_postgres(
    instance_db_url, monkeypatch
):
    monkeypatch.setenv("DAGSTER_PG_URL", instance_db_url)
    monkeypatch.setenv(INSTANCE_ENV, "postgres")
    with bench_instance() as instance:
        assert type(instance.event_log_storage).__name__ == "PostgresEventLogStorage"
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        result = dg.materialize([one_row], instance=instance)
        assert result.success
        assert instance.get_run_by_id(result.run_id) is not None
        event = instance.get_latest_materialization_event(dg.AssetKey("one_row"))
        assert event is not None and event.run_id == result.run_id
        # The run queue and retries come from the shipped file, not from defaults.
        assert instance.run_retries_max_retries == 2


def test_postgres_instance_without_a_url_is_refused_naming_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("DAGSTER_PG_URL", raising=False)
    with pytest.raises(SystemExit):
        main(["--scale", "tiny", "--instance", "postgres"])
    assert "DAGSTER_PG_URL" in capsys.readouterr().err
    monkeypatch.setenv(INSTANCE_ENV, "postgres")
    with pytest.raises(SystemExit, match="DAGSTER_PG_URL"), bench_instance():
        pass
