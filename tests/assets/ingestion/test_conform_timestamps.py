"""Timestamps: ISO 8601 with Z or any offset, strftime formats, epoch units, time zones of naive
values, and dates taken from timestamps (never the UTC date of an instant by default)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from assets.core.spec import DatasetSpec
from assets.ingestion.conform import ERRORS_COLUMN, conform


def spec_of(*columns: dict[str, Any]) -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "t", "columns": list(columns)})


def run(frame: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    return conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect()


def errors(out: pl.DataFrame) -> list[dict[str, str]]:
    return [json.loads(e) if e else {} for e in out[ERRORS_COLUMN].to_list()]


OFFSETS = [
    ("2013-01-01T06:00:00Z", datetime(2013, 1, 1, 6)),
    ("2013-01-01T06:00:00.250Z", datetime(2013, 1, 1, 6, 0, 0, 250000)),
    ("2024-01-03T10:00:00+05:30", datetime(2024, 1, 3, 4, 30)),
    ("2024-01-03T10:00:00+0530", datetime(2024, 1, 3, 4, 30)),
    ("2024-01-03T10:00:00.5-08:00", datetime(2024, 1, 3, 18, 0, 0, 500000)),
    ("2024-01-03T10:00:00-0800", datetime(2024, 1, 3, 18)),
    ("2024-01-03 10:00:00+00", datetime(2024, 1, 3, 10)),  # DuckDB's text of a TIMESTAMPTZ
    ("2024-01-03 10:00:00Z", datetime(2024, 1, 3, 10)),
    ("2024-01-03T10:00Z", datetime(2024, 1, 3, 10)),
    (" 2024-01-03T10:00:00z ", datetime(2024, 1, 3, 10)),
    ("2024-01-03T10:00:00", datetime(2024, 1, 3, 10)),  # naive: as it is
]


def test_iso_timestamps_with_z_or_any_offset_are_stored_as_naive_utc():
    texts = [t for t, _ in OFFSETS] + ["2024-01-03T25:00:00Z", "2024-01-03T10:00:00+5"]
    out = run(pl.DataFrame({"ts": texts}), spec_of({"name": "ts", "type": "datetime"}))
    assert out.schema["ts"] == pl.Datetime("us")
    assert out["ts"].to_list() == [want for _, want in OFFSETS] + [None, None]
    assert [e.get("ts") for e in errors(out)] == [None] * len(OFFSETS) + texts[-2:]


def test_a_strftime_format_is_the_one_spelling_read():
    spec = spec_of(
        {"name": "ts", "type": "datetime", "format": "%d/%m/%Y %H:%M"},
        {"name": "day", "type": "date", "format": "%d/%m/%Y"},
        {"name": "stamp", "type": "date", "format": "%Y%m%d %H%M"},
    )
    frame = pl.DataFrame(
        {
            "ts": ["02/01/2024 10:30", " 31/12/2023 23:59 ", "2024-01-02T10:30:00", "NA"],
            "day": ["02/01/2024", "31/12/2023", "2024-01-02", ""],
            "stamp": ["20240102 1030", "20231231 2359", "20240102", None],
        }
    )
    out = run(frame, spec)
    assert (
        out["ts"].to_list()
        == [datetime(2024, 1, 2, 10, 30), datetime(2023, 12, 31, 23, 59)] + [None] * 2
    )
    assert out["day"].to_list() == [date(2024, 1, 2), date(2023, 12, 31), None, None]
    assert out["stamp"].to_list() == [date(2024, 1, 2), date(2023, 12, 31), None, None]
    assert errors(out) == [
        {},
        {},
        {"ts": "2024-01-02T10:30:00", "day": "2024-01-02", "stamp": "20240102"},
        {},
    ]


def test_epoch_units_from_text_and_numbers():
    spec = spec_of(
        {"name": "s", "type": "datetime", "unit": "s"},
        {"name": "ms", "type": "datetime", "unit": "ms"},
    )
    t = datetime(2013, 1, 1, 6)
    epoch = int(t.replace(tzinfo=UTC).timestamp())
    as_text = pl.DataFrame(
        {
            "s": [str(epoch), f"{epoch}.5", " 1e9 ", "NA", "2013-01-01", "1e300"],
            "ms": [str(epoch * 1000), f"{epoch * 1000}.25", "0", "", "x", "inf"],
        }
    )
    out = run(as_text, spec)
    assert out["s"].to_list() == [
        t,
        t.replace(microsecond=500000),
        datetime(2001, 9, 9, 1, 46, 40),
        None,
        None,
        None,
    ]
    assert out["ms"].to_list() == [t, t.replace(microsecond=250), datetime(1970, 1, 1)] + [None] * 3
    assert errors(out)[3:] == [{}, {"s": "2013-01-01", "ms": "x"}, {"s": "1e300", "ms": "inf"}]
    numbers = pl.DataFrame(
        {"s": [epoch, None, 10**15], "ms": [epoch * 1000.0, 1.5, None]},
        schema={"s": pl.Int64, "ms": pl.Float64},
    )
    out = run(numbers, spec)
    assert out["s"].to_list() == [t, None, None]
    assert out["ms"].to_list() == [t, datetime(1970, 1, 1, 0, 0, 0, 1500), None]
    assert errors(out) == [{}, {}, {"s": str(10**15)}]


def test_a_timezone_places_naive_values_and_leaves_offsets_alone():
    spec = spec_of({"name": "ts", "type": "datetime", "timezone": "Europe/Paris"})
    frame = pl.DataFrame(
        {
            "ts": [
                "2024-07-01T12:00:00",  # summer: UTC+2
                "2024-01-15 12:00:00.5",  # winter: UTC+1, through the full parser
                "2024-07-01T12:00:00Z",
                "2024-03-31T02:30:00",  # does not exist in Paris (clocks jump 02:00 -> 03:00)
                "2024-10-27T02:30:00",  # occurs twice (03:00 -> 02:00): the first, at UTC+2
            ]
        }
    )
    out = run(frame, spec)
    assert out["ts"].to_list() == [
        datetime(2024, 7, 1, 10),
        datetime(2024, 1, 15, 11, 0, 0, 500000),
        datetime(2024, 7, 1, 12),
        None,
        datetime(2024, 10, 27, 0, 30),
    ]
    assert errors(out)[3:] == [{"ts": "2024-03-31T02:30:00"}, {}]


TIMESTAMPS_FOR_DATES = [
    "2024-01-02",
    "2024-01-02T23:30:00",
    "2024-01-02 23:30:00.5",
    "2024-01-02T23:30:00Z",
    "2024-01-02T23:30:00-05:00",
]


def test_a_date_takes_a_naive_timestamps_date_and_an_instants_date_in_its_zone():
    zoned = spec_of({"name": "d", "type": "date", "timezone": "Europe/Paris"})
    out = run(pl.DataFrame({"d": TIMESTAMPS_FOR_DATES}), zoned)
    # 23:30 UTC is 00:30 the next day in Paris; 23:30 at -05:00 is 05:30 the next day there.
    assert out["d"].to_list() == [date(2024, 1, 2)] * 3 + [date(2024, 1, 3)] * 2
    assert out[ERRORS_COLUMN].null_count() == len(TIMESTAMPS_FOR_DATES)


def test_a_date_refuses_an_instant_when_no_timezone_is_declared():
    out = run(pl.DataFrame({"d": TIMESTAMPS_FOR_DATES}), spec_of({"name": "d", "type": "date"}))
    assert out["d"].to_list() == [date(2024, 1, 2)] * 3 + [None] * 2
    assert [e.get("d") for e in errors(out)] == [None] * 3 + TIMESTAMPS_FOR_DATES[3:]


EARLY = datetime(2013, 1, 2, 3, 30, tzinfo=UTC)  # still Jan 1 in New York
LATE = datetime(2013, 1, 1, 20, 0, tzinfo=UTC)  # already Jan 2 in Tokyo


@pytest.mark.parametrize(
    ("declared", "want_days", "want_errors"),
    [
        ({"timezone": "America/New_York"}, [date(2013, 1, 1)] * 2, [None, None]),
        ({"timezone": "Asia/Tokyo"}, [date(2013, 1, 2)] * 2, [None, None]),
        (
            {},
            [None, None],
            ["2013-01-02 03:30:00.000000+00:00", "2013-01-01 20:00:00.000000+00:00"],
        ),
    ],
)
def test_a_tz_aware_parquet_timestamp_into_a_date_follows_the_same_rule(
    tmp_path: Path, declared, want_days, want_errors
):
    path = tmp_path / "t.parquet"
    pl.DataFrame({"d": [EARLY, LATE, None], "ts": [EARLY, LATE, None]}).write_parquet(path)
    spec = spec_of(
        {"name": "d", "type": "date", **declared},
        {"name": "ts", "type": "datetime", **declared},
    )
    out = conform(pl.scan_parquet(path), spec, source_file="t", file_sha256="h").collect()
    assert out["d"].to_list() == [*want_days, None]
    # an instant is stored in UTC whatever the zone
    assert out["ts"].to_list() == [datetime(2013, 1, 2, 3, 30), datetime(2013, 1, 1, 20), None]
    assert [e.get("d") for e in errors(out)] == [*want_errors, None]


def test_a_naive_parquet_timestamp_is_placed_in_the_declared_zone(tmp_path: Path):
    path = tmp_path / "t.parquet"
    pl.DataFrame(
        {"ts": [datetime(2024, 7, 1, 12)], "d": [datetime(2024, 7, 1, 23, 30)]}
    ).write_parquet(path)
    spec = spec_of(
        {"name": "ts", "type": "datetime", "timezone": "America/New_York"},
        {"name": "d", "type": "date"},
    )
    out = conform(pl.scan_parquet(path), spec, source_file="t", file_sha256="h").collect()
    assert out["ts"].to_list() == [datetime(2024, 7, 1, 16)]
    assert out["d"].to_list() == [date(2024, 7, 1)]
    assert out[ERRORS_COLUMN].to_list() == [None]


def test_the_reason_for_a_refused_instant_names_the_timezone_field():
    from assets.validation.rules import column_rules

    spec = spec_of({"name": "d", "type": "date"})
    out = run(pl.DataFrame({"d": ["2024-01-02T23:30:00-05:00", "2024-13-01"]}), spec)
    (rule,) = [r for r in column_rules(spec, date(2025, 1, 1)) if r.name == "type:d"]
    reasons = out.select(rule.reason).to_series().to_list()
    assert reasons == [
        "d is not a valid date: '2024-01-02T23:30:00-05:00' (a time with an offset: declare "
        "the column's timezone to take its date there)",
        "d is not a valid date: '2024-13-01'",
    ]
