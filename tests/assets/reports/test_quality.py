"""The quality summary and the quality report's tables, on hand-built validation records."""

from __future__ import annotations

import json
from datetime import datetime

import polars as pl

from assets.core.privacy import Mask
from assets.core.storage import LakeAt
from assets.reports.quality import (
    current_history,
    quality_report,
    quality_summary,
    rule_failures,
    run_axis,
    score_trend,
)


def _history() -> pl.DataFrame:
    rows = []
    # orders ran twice (the latest run counts), customers once.
    for dataset, run, at, score, quarantined in (
        ("orders", "r1", datetime(2024, 1, 1), 90.0, 10),
        ("orders", "r2", datetime(2024, 1, 2), 80.0, 20),
        ("customers", "r2", datetime(2024, 1, 2), 99.0, 0),
    ):
        for metric, value in (
            ("overall_score", score),
            ("rows_in", 100.0),
            ("valid_rows", 100.0 - quarantined),
            ("quarantined_rows", float(quarantined)),
            ("exact_duplicates", 1.0),
            ("null_rate", 0.5),
        ):
            rows.append(
                {"dataset": dataset, "run_id": run, "recorded_at": at, "metric": metric}
                | {"value": value}
            )
    return pl.DataFrame(rows)


QUARANTINE = {
    "quarantined_orders": pl.DataFrame(
        {
            "_rules": [
                ["not_null(amount)"],
                ["not_null(amount)", "positive(qty)"],
                ["positive(qty)"],
                ["positive(qty)"],
            ],
            # positive(qty) twice with the same reason, once with another.
            "_reason": ["a", "b", "c", "c"],
            "_source_file": ["orders/o.csv"] * 4,
            "_row_number": [4, 3, 9, 2],
        }
    ),
    "quarantined_customers": pl.DataFrame(
        schema={
            "_rules": pl.List(pl.String),
            "_reason": pl.String,
            "_source_file": pl.String,
            "_row_number": pl.Int64,
        }
    ),
}


def _scan(name: str) -> pl.LazyFrame:
    return QUARANTINE[name].lazy()


def test_history_of_a_dataset_no_longer_in_the_catalog_is_left_out():
    # A history part a removed dataset left in the lake has no quarantine this run declares.
    leftover = _history().with_columns(pl.lit("legacy").alias("dataset")).head(3)
    history = pl.concat([_history(), leftover])

    def scan(name: str) -> pl.LazyFrame:
        return history.lazy() if name == "quality_history" else _scan(name)

    current = current_history(scan, ["customers", "orders"])
    assert sorted(current["dataset"].unique()) == ["customers", "orders"]
    assert quality_summary(current, scan)["dataset"].to_list() == ["customers", "orders"]


def test_summary_takes_each_datasets_latest_run_and_its_most_frequent_rule():
    summary = quality_summary(_history(), _scan)
    assert summary["dataset"].to_list() == ["customers", "orders"]
    orders = summary.row(1, named=True)
    assert orders["quality_score"] == 80.0 and orders["quarantined_rows"] == 20
    # positive(qty) fails on three rows (one of them alongside not_null), not_null on two.
    assert orders["worst_rule"] == "positive(qty)" and orders["worst_rule_rows"] == 3
    assert orders["validated_at"] == datetime(2024, 1, 2)
    assert summary.row(0, named=True)["worst_rule"] == "none"
    assert summary.schema["rows_in"] == pl.Int64
    # The score once, under one name.
    assert "overall_score" not in summary.columns


def test_score_trend_keeps_every_run_at_its_time():
    trend = score_trend(_history())
    orders = trend.filter(pl.col("dataset") == "orders")
    assert orders["recorded_at"].to_list() == [datetime(2024, 1, 1), datetime(2024, 1, 2)]
    assert orders["quality_score"].to_list() == [90.0, 80.0]


def test_run_axis_is_dated_hours_for_one_day_and_days_beyond():
    one = datetime(2026, 12, 6, 23, 16)
    (lo, hi), form, label = run_axis([one])
    assert (hi - lo).total_seconds() == 3600 and form == "%H:%M"
    assert label == "run time on 2026-12-06 (UTC)"
    assert run_axis([datetime(2026, 1, 1), datetime(2026, 3, 1)])[1:] == (
        "%Y-%m-%d",
        "run date (UTC)",
    )


def test_rule_examples_differ_and_name_their_row():
    table = rule_failures({"orders": _scan("quarantined_orders")})
    top = table.row(0, named=True)
    assert (top["dataset"], top["rules"], top["rows"], top["reasons"]) == (
        "orders",
        "positive(qty)",
        2,
        1,
    )
    # Two rows, one reason: the reason once, at its first row in the file.
    assert top["examples"] == "c (orders/o.csv, row 2)"
    assert rule_failures({}).is_empty()


def test_quality_report_figures_and_drift_come_from_the_records(tmp_path):
    lake = LakeAt(root=str(tmp_path))
    drift = tmp_path / "_state" / "validation" / "orders_drift.json"
    drift.parent.mkdir(parents=True)
    drift.write_text(json.dumps({"added": ["coupon"], "removed": [], "retyped": []}))
    files = pl.DataFrame({"entity": ["orders"], "file": ["x.csv"], "reason": ["bad header"]})
    report = quality_report(
        _history(), _scan, lake, files, {"orders": 85.0, "customers": 80.0}, datetime(2024, 1, 3)
    )
    assert report.figures == {
        "rows_quarantined": 20,
        "lowest_quality_score": 80.0,
        "quarantined_files": 1,
    }
    assert report.payload["drift"] == {
        "customers": {},
        "orders": {"added": ["coupon"], "removed": [], "retyped": []},
    }
    assert (
        "20 rows quarantined across 2 datasets in their latest validation runs; lowest quality "
        "score 80.00 of 100 (orders); below its gate: orders."
    ) in report.page
    assert 'data-chart="quality-trend"' in report.page
    # Every dataset's page of the data dictionary is one click away.
    for d in ("customers", "orders"):
        assert f'href="dictionary/{d}.html"' in report.page
    assert 'href="dictionary/index.html"' in report.page
    assert report.payload["thresholds"] == {"orders": 85.0, "customers": 80.0}


def test_quarantined_files_reads_every_sidecar_whatever_the_first_hundred_hold(tmp_path):
    from assets.reports.quality import quarantined_files

    folder = tmp_path / "files" / "orders"
    folder.mkdir(parents=True)
    # 101 refused links (never copied: copied_to is null), then one copied file.
    for i in range(101):
        record = {"entity": "orders", "file": f"link-{i:03}.csv", "reason": "a symlink"}
        (folder / f"link-{i:03}.csv.json").write_text(json.dumps({**record, "copied_to": None}))
    copied = {"entity": "orders", "file": "z.csv", "reason": "bad", "copied_to": "/q/z.csv"}
    (folder / "z.csv.json").write_text(json.dumps(copied))
    files = quarantined_files(tmp_path)
    assert files.height == 102
    assert files["copied_to"].drop_nulls().to_list() == ["/q/z.csv"]


def test_rule_examples_mask_the_personal_values_their_reasons_quote():
    customers = pl.LazyFrame(
        {
            "_rules": [["pattern:email"], ["pattern:email"], ["pattern:phone"]],
            "_reason": [
                "email 'zelda at privacy-probe.example' does not look like email",
                "email 'bo at x.io' does not look like email",
                "phone '+33 6 47 58 69 12 ext 9' does not look like phone",
            ],
            "_source_file": ["customers/c.csv"] * 3,
            "_row_number": [2, 3, 4],
            "name": ["Zelda Quixotewright", "Bo", "Cy"],
            "email": ["zelda at privacy-probe.example", "bo at x.io", "cy@x.io"],
            "phone": [None, None, "+33 6 47 58 69 12 ext 9"],
        }
    )
    masks: dict[str, dict[str, Mask]] = {
        "customers": {"name": "initial", "email": "email", "phone": "phone"}
    }
    table = rule_failures({"customers": customers}, masks)
    rows = {r["rules"]: r for r in table.iter_rows(named=True)}
    # Two different reasons, told apart by their real text, shown masked.
    assert rows["pattern:email"]["reasons"] == 2
    assert rows["pattern:email"]["examples"] == (
        "email 'z***' does not look like email (customers/c.csv, row 2)\n"
        "email 'b***' does not look like email (customers/c.csv, row 3)"
    )
    assert rows["pattern:phone"]["examples"] == (
        "phone '+33 ** ** ** 29' does not look like phone (customers/c.csv, row 4)"
    )
