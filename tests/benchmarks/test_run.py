"""The benchmark's bookkeeping: what it counts as input, and what it reports per stage."""

from __future__ import annotations

from benchmarks.run import CONTENDERS, source_rows, stage_throughput, summarise


def test_source_rows_counts_data_rows_of_every_entity(tmp_path):
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / "a.csv").write_text("id,x\n1,a\n2,b\n")
    (tmp_path / "orders" / "b.csv").write_text("id,x,y\n3,c,\n")  # another header is fine
    (tmp_path / "customers").mkdir()
    (tmp_path / "customers" / "c.csv").write_text('id,note\n1,"two\nlines"\n')
    (tmp_path / "manifest.json").write_text("{}")
    assert source_rows(tmp_path) == 4


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
