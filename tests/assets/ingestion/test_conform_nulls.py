"""Null values: the texts a spec says mean "missing" are nulls in every column type and from
every file format, not type errors; a column's own list overrides the dataset's.

The flights rows are real: nycflights13 (CC0) as R's write_csv exports it, where a cancelled
flight has NA for its times and its aircraft.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl

from assets.core.readers import detect_format, read_landing_file
from assets.core.spec import DatasetSpec
from assets.ingestion.conform import ERRORS_COLUMN, conform

FLIGHTS_CSV = """\
year,month,day,dep_time,sched_dep_time,dep_delay,arr_time,sched_arr_time,arr_delay,carrier,flight,tailnum,origin,dest,air_time,distance,hour,minute,time_hour
2013,1,1,517,515,2,830,819,11,UA,1545,N14228,EWR,IAH,227,1400,5,15,2013-01-01T10:00:00Z
2013,1,1,1525,1530,-5,1934,1805,NA,MQ,4525,N719MQ,LGA,XNA,NA,1147,15,30,2013-01-01T20:00:00Z
2013,1,2,NA,1545,NA,NA,1910,NA,AA,133,NA,JFK,LAX,NA,2475,15,45,2013-01-02T20:00:00Z
"""
FLIGHT_COLUMNS: list[dict[str, Any]] = [
    {"name": "dep_time", "type": "integer"},
    {"name": "dep_delay", "type": "float"},
    {"name": "arr_delay", "type": "integer"},
    {"name": "carrier", "type": "string", "required": True},
    {"name": "tailnum", "type": "string"},
    {"name": "time_hour", "type": "datetime", "required": True},
]


def spec_of(columns: list[dict[str, Any]], **extra: Any) -> DatasetSpec:
    return DatasetSpec.model_validate({"name": "t", "columns": columns, **extra})


FLIGHTS = spec_of(FLIGHT_COLUMNS)


def land(path: Path, spec: DatasetSpec, tmp: Path) -> pl.DataFrame:
    """``path`` read by the landing-zone readers and conformed, as ingestion does."""
    fmt = detect_format(path, path.read_bytes()[:4096])
    lf, _ = read_landing_file(path, fmt, tmp, expected=[c.name for c in spec.columns])
    return conform(lf, spec, source_file=path.name, file_sha256="h").collect()


def test_r_export_na_is_missing_in_numbers_keys_and_timestamps(tmp_path: Path):
    path = tmp_path / "flights.csv"
    path.write_text(FLIGHTS_CSV)
    out = land(path, FLIGHTS, tmp_path)
    assert out[ERRORS_COLUMN].to_list() == [None, None, None]
    assert out["dep_time"].to_list() == [517, 1525, None]
    assert out["dep_delay"].to_list() == [2.0, -5.0, None]
    assert out["arr_delay"].to_list() == [11, None, None]
    assert out["tailnum"].to_list() == ["N14228", "N719MQ", None]  # no orphan key "NA"
    assert out["time_hour"].to_list() == [
        datetime(2013, 1, 1, 10),
        datetime(2013, 1, 1, 20),
        datetime(2013, 1, 2, 20),
    ]


def test_every_default_token_is_missing_in_every_type_after_trimming():
    tokens = ["", "NA", "N/A", "NaN", "null", "NULL", "None", " NA ", "\tNaN"]
    types = ["integer", "float", "boolean", "date", "datetime", "string"]
    spec = spec_of([{"name": t, "type": t} for t in types])
    frame = pl.DataFrame({t: tokens for t in types})
    out = conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect()
    assert out[ERRORS_COLUMN].null_count() == len(tokens)
    for t in types:
        assert out[t].null_count() == len(tokens), t


def test_tokens_are_case_sensitive_and_a_column_list_overrides_the_dataset():
    spec = spec_of(
        [
            {"name": "country", "type": "string", "null_values": []},  # NA is Namibia
            {"name": "city", "type": "string"},
            {"name": "x", "type": "float"},
            {"name": "n", "type": "integer", "null_values": ["-999", "?"]},
        ]
    )
    frame = pl.DataFrame(
        {
            "country": ["NA", "FR", ""],
            "city": ["NA", "na", "Paris"],
            "x": ["NaN", "nan", "1.5"],
            "n": ["-999", "?", "NA"],
        }
    )
    out = conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect()
    assert out["country"].to_list() == ["NA", "FR", ""]
    assert out["city"].to_list() == [None, "na", "Paris"]
    x = out["x"].to_list()
    assert x[0] is None and x[1] != x[1] and x[2] == 1.5  # "nan" stays a float NaN
    assert out["n"].to_list() == [None, None, None]  # "-999" is missing, though it parses
    assert out[ERRORS_COLUMN].to_list() == [None, None, '{"n": "NA"}']


def test_dataset_null_values_replace_the_default():
    spec = spec_of(
        [{"name": "n", "type": "integer"}, {"name": "s", "type": "string"}],
        null_values=["-", "missing"],
    )
    frame = pl.DataFrame({"n": ["1", " - ", "NA", "missing"], "s": ["NA", "-", "", "x"]})
    out = conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect()
    assert out["n"].to_list() == [1, None, None, None]
    assert out["s"].to_list() == ["NA", None, "", "x"]
    assert out[ERRORS_COLUMN].to_list() == [None, None, '{"n": "NA"}', None]


def test_a_date_sentinel_is_missing_in_the_fast_path_too():
    """A null value that is itself a valid date ("1900-01-01") is missing, not a date."""
    spec = spec_of([{"name": "d", "type": "date", "null_values": ["1900-01-01"]}])
    frame = pl.DataFrame({"d": ["1900-01-01", " 1900-01-01", "2024-01-02", "NA"]})
    out = conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect()
    assert out["d"].cast(pl.String).to_list() == [None, None, "2024-01-02", None]
    assert out[ERRORS_COLUMN].to_list() == [None, None, None, '{"d": "NA"}']


def test_json_source_with_numbers_and_na(tmp_path: Path):
    path = tmp_path / "flights.json"
    records = [
        {"dep_time": 517, "dep_delay": 2.0, "arr_delay": 11, "carrier": "UA",
         "tailnum": "N14228", "time_hour": "2013-01-01T10:00:00Z"},
        {"dep_time": "NA", "dep_delay": "NA", "arr_delay": None, "carrier": "AA",
         "tailnum": "NA", "time_hour": "2013-01-02T20:00:00Z"},
    ]  # fmt: skip
    path.write_text(json.dumps(records))
    out = land(path, FLIGHTS, tmp_path)
    assert out[ERRORS_COLUMN].to_list() == [None, None]
    assert out["dep_time"].to_list() == [517, None]
    assert out["dep_delay"].to_list() == [2.0, None]
    assert out["tailnum"].to_list() == ["N14228", None]
    assert out["time_hour"].to_list() == [datetime(2013, 1, 1, 10), datetime(2013, 1, 2, 20)]


def test_parquet_string_columns_with_na(tmp_path: Path):
    path = tmp_path / "flights.parquet"
    pl.DataFrame(
        {
            "dep_time": ["517", "NA"],  # text numbers, as some exports write them
            "dep_delay": [2.0, None],  # typed: taken as it is
            "arr_delay": [11, None],
            "carrier": ["UA", "AA"],
            "tailnum": ["N14228", "NA"],
            "time_hour": ["2013-01-01T10:00:00Z", "NA"],
        }
    ).write_parquet(path)
    optional_time = [*FLIGHT_COLUMNS[:-1], {"name": "time_hour", "type": "datetime"}]
    out = land(path, spec_of(optional_time), tmp_path)
    assert out[ERRORS_COLUMN].to_list() == [None, None]
    assert out["dep_time"].to_list() == [517, None]
    assert out["tailnum"].to_list() == ["N14228", None]
    assert out["time_hour"].to_list() == [datetime(2013, 1, 1, 10), None]
