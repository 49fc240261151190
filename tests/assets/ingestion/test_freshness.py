"""Freshness of the data: a raw table materializes only when new data arrived, and
``<dataset>_fresh`` judges the newest row against a clock the run sets."""

from __future__ import annotations

import os
import time
from datetime import UTC, date, datetime

import dagster as dg
import polars as pl
import pytest

from assets.core.spec_sections import FreshnessSpec
from assets.ingestion.freshness import data_freshness
from pipeline_defs.settings import Settings
from tests.runs import datasets_of, materialize

EVENTS = """\
name: events
key: [event_id]
columns:
  - {name: event_id, type: string, required: true}
  - {name: event_ts, type: datetime, required: true}
freshness: {column: event_ts, max_lag_hours: 6, warn_after_hours: 3}
"""
NOON = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


WARN_AT_3_FAIL_AT_6 = FreshnessSpec(column="t", max_lag_hours=6, warn_after_hours=3)


def _verdict(values, spec=WARN_AT_3_FAIL_AT_6):
    return data_freshness(pl.LazyFrame({"t": values}), spec, NOON)


def test_the_newest_row_decides_fresh_late_or_stale():
    at = datetime(2026, 12, 7, 10, 0)
    fresh = _verdict([datetime(2026, 12, 1), at])
    assert (fresh.state, fresh.lag_hours) == ("fresh", 2.0)
    assert fresh.newest == at.replace(tzinfo=UTC)
    assert _verdict([datetime(2026, 12, 7, 8, 0)]).state == "late"
    assert _verdict([datetime(2026, 12, 7, 5, 0)]).state == "stale"
    # Exactly at a limit is still within it.
    assert _verdict([datetime(2026, 12, 7, 9, 0)]).state == "fresh"
    assert _verdict([datetime(2026, 12, 7, 6, 0)]).state == "late"
    no_warning = FreshnessSpec(column="t", max_lag_hours=6)
    assert _verdict([datetime(2026, 12, 7, 8, 0)], no_warning).state == "fresh"


def test_a_date_counts_from_the_end_of_its_day_and_an_empty_table_is_stale():
    today = _verdict([date(2026, 12, 7)])
    assert (today.state, today.lag_hours) == ("fresh", 0.0)
    yesterday = _verdict([date(2026, 12, 6)])
    assert yesterday.newest == datetime(2026, 12, 6, 23, 59, 59, 999999, tzinfo=UTC)
    assert (yesterday.state, yesterday.lag_hours) == ("stale", 12.0)
    empty = _verdict(pl.Series([], dtype=pl.Datetime("us")))
    assert (empty.state, empty.newest, empty.lag_hours) == ("stale", None, None)


def land_events(settings: Settings, name: str, rows: list[tuple[str, str]]) -> None:
    folder = settings.data_dir / "landing" / "events"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text("event_id,event_ts\n" + "".join(f"{i},{t}\n" for i, t in rows))
    settled = time.time() - 60  # older than the landing zone's settle time
    os.utime(path, (settled, settled))


def _run(settings: Settings, as_of: str) -> dg.ExecuteInProcessResult:
    config = {"ops": {"raw_events": {"config": {"as_of": as_of}}}}
    return materialize(settings, datasets_of("events"), run_config=config)


@pytest.fixture
def events(settings: Settings) -> Settings:
    settings.datasets_dir.mkdir(parents=True)
    (settings.datasets_dir / "events.yaml").write_text(EVENTS)
    return settings


def _outcome(result: dg.ExecuteInProcessResult):
    mats = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    return mats, checks


def test_a_run_without_new_data_does_not_refresh_the_table(events: Settings):
    land_events(events, "a.csv", [("e1", "2026-12-07T09:30:00"), ("e2", "2026-12-07T10:00:00")])
    first = _run(events, "2026-12-07T12:00:00Z")
    assert first.success
    mats, checks = _outcome(first)
    assert {"raw_events", "validated_events", "quarantined_events"} <= mats
    fresh = checks["events_fresh"]
    assert fresh.passed and fresh.metadata["lag_hours"].value == 2.0

    # Nothing new arrived: no materialization (so Dagster's freshness policy sees the data's
    # age), validation is skipped, and the checks still judge the data.
    later = _run(events, "2026-12-07T15:00:00Z")
    assert later.success
    mats, checks = _outcome(later)
    assert mats == set()
    skipped = {e.step_key for e in later.all_events if e.event_type_value == "STEP_SKIPPED"}
    assert skipped == {"validate_events"}
    late = checks["events_fresh"]
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN
    assert late.metadata["lag_hours"].value == 5.0
    assert late.metadata["newest_row"].value == "2026-12-07T10:00:00+00:00"
    assert late.metadata["warn_after_hours"].value == 3.0
    assert late.metadata["max_lag_hours"].value == 6.0
    assert checks["events_landing_files_readable"].passed

    stale = _outcome(_run(events, "2026-12-07T17:00:00Z"))[1]["events_fresh"]
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR

    # A new file refreshes the table, and the newest row passes again.
    land_events(events, "b.csv", [("e3", "2026-12-07T16:30:00")])
    mats, checks = _outcome(_run(events, "2026-12-07T17:00:00Z"))
    assert {"raw_events", "validated_events"} <= mats
    assert checks["events_fresh"].passed


def test_the_freshness_policy_warns_and_fails_on_the_declared_hours(events: Settings):
    from pipeline_defs import build_definitions

    d = build_definitions(events)
    policy = d.resolve_assets_def("raw_events").specs_by_key[dg.AssetKey("raw_events")]
    window = policy.freshness_policy
    assert window is not None and type(window).__name__ == "TimeWindowFreshnessPolicy"
    assert window.fail_window.to_timedelta().total_seconds() == 6 * 3600
    assert window.warn_window is not None
    assert window.warn_window.to_timedelta().total_seconds() == 3 * 3600


def test_only_new_data_or_a_request_for_days_refreshes_a_raw_table():
    from assets.ingestion.checks import refreshes
    from assets.ingestion.landing import IngestReport
    from assets.ingestion.ledger import FileOutcome

    def report(*statuses: str) -> IngestReport:
        outcomes = [FileOutcome(f"f{i}", "h", 1, 0, s) for i, s in enumerate(statuses)]
        return IngestReport("events", outcomes)

    scheduled = {"dagster/schedule_name": "daily_pipeline_schedule"}
    by_sensor = {"dagster/sensor_name": "landing_zone_sensor"}
    for partitioned in (False, True):
        assert refreshes(report("ingested", "duplicate"), scheduled, partitioned=partitioned)
        assert not refreshes(report("duplicate", "quarantined"), scheduled, partitioned=partitioned)
        assert not refreshes(report(), by_sensor, partitioned=partitioned)
    # Someone asked for these days (a backfill, a run for a range): they are rewritten.
    backfill = {"dagster/backfill": "abc"}
    assert refreshes(report(), backfill, partitioned=True)
    assert refreshes(report(), {}, partitioned=True)
    assert not refreshes(report(), backfill, partitioned=False)
    # Another dataset validated in the run reads it: without a materialization Dagster would
    # skip that validation.
    assert refreshes(report(), scheduled, partitioned=False, read_by=["validated_orders"])
