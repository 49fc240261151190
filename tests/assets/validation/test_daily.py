"""Quality per day of a partitioned run: measured, gated and compared with earlier days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from assets.validation.daily import day_anomalies, day_summary, with_days
from assets.validation.gates import gate_outcomes, gates
from assets.validation.history import (
    append_history,
    earlier_days,
    load_history,
    metric_anomalies,
    run_history,
)
from assets.validation.quality import measure, measure_by
from tests.assets.validation.rows import SPEC, flag, frame

DAY1, DAY2 = date(2025, 3, 1), date(2025, 3, 2)


def _two_days() -> pl.DataFrame:
    rows = flag(frame({}, {}, {"qty": None}, {"kind": "z"}, {"parent_id": "P9"}, {}, {}, {}))
    # The three bad rows (r2 to r4) fall on the second day.
    on_day2 = pl.col("id").is_in(["r2", "r3", "r4"])
    return rows.with_columns(pl.when(on_day2).then(DAY2).otherwise(DAY1).alias("_partition"))


def test_each_day_is_measured_as_if_it_ran_alone():
    flagged = _two_days()
    by_day = measure_by(flagged.lazy(), SPEC, "_partition")
    assert set(by_day) == {DAY1, DAY2}
    for day, report in by_day.items():
        alone = measure(flagged.filter(pl.col("_partition") == day).lazy(), SPEC)
        assert report == alone
    assert by_day[DAY1].valid_rows == 5 and by_day[DAY2].quarantined_rows == 3


def test_a_bad_day_fails_its_gate_though_the_range_passes():
    flagged = _two_days()
    whole = measure(flagged.lazy(), SPEC)
    daily = measure_by(flagged.lazy(), SPEC, "_partition")
    gate_list = gates(whole, SPEC)
    name = "items_reference_parents"
    spec = SPEC.model_copy(
        update={"thresholds": SPEC.thresholds.model_copy(update={"referential_integrity": 0.8})}
    )
    gate_list = gates(whole, spec)
    assert next(g for g in gate_list if g.name == name).passed  # 7 of 8 resolve: 0.875
    failing = {g.name: (0, []) for g in gate_list}
    checks = with_days(gate_outcomes(gate_list, failing, "ERROR"), daily, spec)
    check = next(c for c in checks if c.name == name)
    assert not check.passed  # 2 of 3 on the second day: 0.667
    assert check.metadata["days_failing"] == ["2025-03-02"]
    assert check.metadata["by_day"] == {"2025-03-01": 1.0, "2025-03-02": 0.666667}
    assert check.metadata["value"] == 0.875  # the range's own value is kept
    assert check.description is not None and check.description.endswith("Failed on 2025-03-02.")
    summary = day_summary(daily, spec)
    assert summary["day"].to_list() == ["2025-03-01", "2025-03-02"]
    assert summary["rows_in"].to_list() == [5, 3]
    assert "reference_parents" in summary["gates_failed"][1]


def _history(tmp_path, runs: list[tuple[str, dict[date, float]]]) -> pl.DataFrame:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    for i, (run_id, days) in enumerate(runs):
        total = {"rows_in": sum(days.values())}
        by_day = {d: {"rows_in": n} for d, n in days.items()}
        append_history(tmp_path, "items", run_id, total, start + timedelta(hours=i), by_day)
    return load_history(tmp_path, "items")


def test_history_rows_carry_the_day_and_a_rerun_day_replaces_its_record(tmp_path):
    day = [date(2025, 1, d) for d in range(1, 8)]
    history = _history(
        tmp_path,
        [("a", {day[0]: 100, day[1]: 110}), ("b", {day[2]: 90}), ("c", {day[1]: 500})],
    )
    assert run_history(history)["value"].to_list() == [210.0, 90.0, 500.0]
    past = earlier_days(history, day[3]).sort("partition")
    assert past["partition"].to_list() == day[:3]
    assert past["value"].to_list() == [100.0, 500.0, 90.0]  # day 2 as its latest run saw it
    assert earlier_days(history, day[0]).is_empty()


class _Rows:
    """A day's report as the comparison sees it: its metrics."""

    def __init__(self, rows: float) -> None:
        self.rows = rows

    def metrics(self) -> dict[str, float]:
        return {"rows_in": self.rows}


def test_a_backfill_is_compared_day_by_day_not_with_one_day_runs(tmp_path):
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(40)]
    daily_runs = [(f"d{i}", {days[i]: 100.0 + i % 3}) for i in range(8)]
    history = _history(tmp_path, daily_runs)
    backfill = {d: 100.0 + i % 3 for i, d in enumerate(days[8:38])}
    backfill[days[20]] = 1000.0  # one day with ten times the rows

    reports = {d: _Rows(n) for d, n in backfill.items()}
    # The old comparison: the backfill's total against one-day runs is a false alarm ...
    total = {"rows_in": sum(backfill.values())}
    assert metric_anomalies(run_history(history), total)
    # ... and day by day only the odd day stands out, against the days before it.
    anomalies, points = day_anomalies(history, reports, k=3.5)  # type: ignore[arg-type]
    assert [(a["day"], a["metric"]) for a in anomalies] == [(days[20].isoformat(), "rows_in")]
    assert anomalies[0]["points"] == 20
    assert points == 37


def test_a_first_backfill_compares_its_days_with_its_own_earlier_days(tmp_path):
    history = load_history(tmp_path, "items")  # nothing recorded yet
    days = [date(2025, 1, 1) + timedelta(days=i) for i in range(10)]
    reports = {d: _Rows(1000.0 if i == 9 else 100.0 + i % 2) for i, d in enumerate(days)}
    anomalies, points = day_anomalies(history, reports, k=3.5)  # type: ignore[arg-type]
    assert [a["day"] for a in anomalies] == [days[9].isoformat()]
    assert points == 9
