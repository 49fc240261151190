"""The start-up benchmark runs its four commands for real and reports ratios from its medians."""

from __future__ import annotations

import json

import pytest

from benchmarks import startup

pytestmark = pytest.mark.e2e


def test_one_round_times_every_command_and_relates_them(capsys):
    startup.main(["--runs", "1"])
    out = json.loads(capsys.readouterr().out)
    results = out["results"]
    assert set(results) == {
        "import dagster",
        "import pipeline_defs",
        "project CLI, nothing to read",
        "one-asset project CLI (Dagster's floor)",
    }
    base = results["import dagster"]
    assert base["wall_over_import_dagster"] == 1.0
    for r in results.values():
        assert r["wall_s"]["min"] <= r["wall_s"]["median"] <= r["wall_s"]["max"]
        assert r["cpu_s"]["median"] > 0 and r["peak_rss_mb"] > 0
    cli = results["project CLI, nothing to read"]
    # The CLI run loads the project, so it cannot be cheaper than importing it.
    assert cli["cpu_s"]["median"] > results["import pipeline_defs"]["cpu_s"]["median"] * 0.8
    assert cli["peak_rss_mb"] > base["peak_rss_mb"]
