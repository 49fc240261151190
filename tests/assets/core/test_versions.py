"""Versions of a lake table without Dagster: the pointer, partitioned publishes, pruning."""

from __future__ import annotations

import json
import multiprocessing as mp
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from assets.core import versions
from assets.core.storage import PUBLISHED, LakeAt, sink_parquet_atomic
from assets.core.versions import hold_back, new_version, prune_versions, publish

T0 = datetime(2026, 1, 1, 12, tzinfo=UTC)


def _day_version(lake: LakeAt, now: datetime, days: dict[date, int]):
    """A version of ``t.v`` holding one part per day, each row its day's ``n``."""
    version = new_version(lake.table_dir("t", "v"), now)
    written = []
    for day, n in days.items():
        part = version.directory / f"date={day}" / "part-full.parquet"
        sink_parquet_atomic(pl.DataFrame({"day": [day], "n": [n]}), part)
        written.append(part)
    return version, written


def _rows(lake: LakeAt) -> dict[date, int]:
    frame = lake.scan("t", "v").collect()
    return dict(zip(frame["day"], frame["n"], strict=True))


def test_a_partitioned_publish_keeps_the_published_days_it_did_not_rewrite(tmp_path: Path):
    lake = LakeAt(str(tmp_path))
    d1, d2, d3 = date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3)
    v1, w1 = _day_version(lake, T0, {d1: 1, d2: 1})
    publish(v1, w1, [d1, d2], T0)
    v2, w2 = _day_version(lake, T0 + timedelta(hours=1), {d2: 2, d3: 2})
    publish(v2, w2, [d2, d3], T0 + timedelta(hours=1))
    assert _rows(lake) == {d1: 1, d2: 2, d3: 2}

    # Held back: readers keep every published day, and the pointer says what and why.
    v3, _ = _day_version(lake, T0 + timedelta(hours=2), {d1: 3})
    hold_back(v3, ["t_keys_unique"], T0 + timedelta(hours=2))
    assert _rows(lake) == {d1: 1, d2: 2, d3: 2}
    pointer = json.loads((lake.table_dir("t", "v") / PUBLISHED).read_text())
    assert pointer["version"] == v2.name
    assert pointer["held_back"] == {
        "version": v3.name,
        "because": ["t_keys_unique"],
        "at": (T0 + timedelta(hours=2)).isoformat(),
    }
    assert lake.glob("t", "v") == [str(p.resolve()) for p in lake.parts("t", "v")]


def test_pruning_removes_old_unpublished_versions_and_never_a_published_part(tmp_path: Path):
    lake = LakeAt(str(tmp_path))
    d1, d2 = date(2026, 1, 1), date(2026, 1, 2)
    v1, w1 = _day_version(lake, T0, {d1: 1, d2: 1})
    publish(v1, w1, [d1, d2], T0)
    v2, w2 = _day_version(lake, T0 + timedelta(hours=1), {d2: 2})
    publish(v2, w2, [d2], T0 + timedelta(hours=1))  # v1 still holds the published day d1
    v3, _ = _day_version(lake, T0 + timedelta(hours=2), {d1: 3})
    hold_back(v3, ["gate"], T0 + timedelta(hours=2))
    v4, _ = _day_version(lake, T0 + timedelta(hours=30), {d1: 4})
    hold_back(v4, ["gate"], T0 + timedelta(hours=30))

    removed = prune_versions(lake.table_dir("t", "v"), 24, T0 + timedelta(hours=31))
    assert removed == [v3.name]  # older than a day and named by no published part
    assert v1.directory.exists() and v2.directory.exists() and v4.directory.exists()
    assert _rows(lake) == {d1: 1, d2: 2}


def test_a_table_written_before_versions_stays_readable_when_its_first_version_is_held_back(
    tmp_path: Path,
):
    lake = LakeAt(str(tmp_path))
    lake.replace("t", "v", pl.DataFrame({"day": [date(2026, 1, 1)], "n": [0]}))
    version = new_version(lake.table_dir("t", "v"), T0)
    hold_back(version, ["gate"], T0)
    assert _rows(lake) == {date(2026, 1, 1): 0}


def _publish_days(root: str, day: int) -> None:
    """One run's publish of one day, in a process of its own."""
    lake = LakeAt(root)
    d = date(2026, 1, day)
    version, written = _day_version(lake, T0 + timedelta(minutes=day), {d: day})
    publish(version, written, [d], T0 + timedelta(minutes=day))


def test_runs_publishing_other_days_at_once_keep_each_others_days(tmp_path: Path):
    with ProcessPoolExecutor(max_workers=4, mp_context=mp.get_context("spawn")) as pool:
        list(pool.map(_publish_days, [str(tmp_path)] * 12, range(1, 13)))
    assert _rows(LakeAt(str(tmp_path))) == {date(2026, 1, d): d for d in range(1, 13)}


def test_on_s3_a_pointer_replaced_meanwhile_is_read_again_not_overwritten(
    s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    lake = LakeAt(f"s3://{s3_env['BUCKET']}/wap")
    d1, d2 = date(2026, 1, 1), date(2026, 1, 2)
    v1, w1 = _day_version(lake, T0, {d1: 1})
    v2, w2 = _day_version(lake, T0 + timedelta(hours=1), {d2: 2})
    real = versions.candidate_parts
    calls: list[str] = []

    def racing(version, written, days, pointer):
        # Between this run's read of the pointer and its write, another run publishes d2.
        calls.append(version.name)
        if len(calls) == 1:
            publish(v2, w2, [d2], T0 + timedelta(hours=1))
        return real(version, written, days, pointer)

    monkeypatch.setattr(versions, "candidate_parts", racing)
    publish(v1, w1, [d1], T0)
    assert calls[0] == calls[-1] == v1.name and len(calls) == 3  # read again after the conflict
    assert _rows(lake) == {d1: 1, d2: 2}
