"""Typed sources (Parquet) convert under the same rules as text: a value that a CSV would flag
is flagged, never silently changed."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl

from assets.core.columns import ERRORS_COLUMN
from assets.core.spec import DatasetSpec
from assets.ingestion.conform import conform

SPEC = DatasetSpec.model_validate(
    {
        "name": "t",
        "columns": [
            {"name": "qty", "type": "integer"},
            {"name": "day", "type": "date"},
            {"name": "flag", "type": "boolean"},
            {"name": "amount", "type": "float"},
            {"name": "at", "type": "datetime"},
        ],
    }
)


def test_parquet_values_of_the_wrong_type_are_flagged_not_cast(tmp_path: Path) -> None:
    # Row 1 fits; row 2 holds the hostile values: 2.7 into an integer, 20240101 into a date,
    # 5 into a boolean, a datetime into a float.
    path = tmp_path / "part.parquet"
    pl.DataFrame(
        {
            "qty": [3.0, 2.7],
            "day": [20240101, 20240101],
            "flag": [1, 5],
            "amount": [datetime(2024, 1, 1), datetime(2024, 1, 1)],
            "at": [datetime(2024, 1, 1, 6), None],
        }
    ).write_parquet(path)
    fits = pl.DataFrame(
        {"qty": [3.0], "day": [date(2024, 1, 1)], "flag": [1], "amount": [10.5], "at": [None]}
    )
    out = conform(pl.scan_parquet(path), SPEC, source_file="part.parquet", file_sha256="x")
    out = out.collect()
    assert out.select("qty", "day", "flag", "amount", "at").row(1) == (None,) * 5
    assert json.loads(out[ERRORS_COLUMN][1]) == {
        "qty": "2.7",
        "day": "20240101",
        "flag": "5",
        "amount": "2024-01-01 00:00:00.000000",
    }
    assert out["qty"][0] == 3 and out["flag"][0] is True and out["at"][0] == datetime(2024, 1, 1, 6)
    # Values of a fitting type convert as a CSV text of them would: 3.0 is 3, 1 is true.
    good = conform(fits.lazy(), SPEC, source_file="f", file_sha256="x").collect()
    assert good.select("qty", "day", "flag", "amount").row(0) == (3, date(2024, 1, 1), True, 10.5)
    assert good[ERRORS_COLUMN][0] is None


def test_nested_parquet_values_become_their_json_text(tmp_path: Path) -> None:
    """A list or struct column read into a text column keeps its value as JSON; into a typed
    column it is flagged with that JSON, never a crash of the cast."""
    path = tmp_path / "nested.parquet"
    pl.DataFrame(
        {
            "tags": [["a", "b"], [], None],
            "meta": [{"k": 1}, {"k": None}, None],
            "qty": [[1], [2], None],
        }
    ).write_parquet(path)
    spec = DatasetSpec.model_validate(
        {
            "name": "n",
            "columns": [
                {"name": "tags"},
                {"name": "meta"},
                {"name": "qty", "type": "integer"},
            ],
        }
    )
    out = conform(pl.scan_parquet(path), spec, source_file="nested.parquet", file_sha256="x")
    got = out.collect()
    assert got["tags"].to_list() == ['["a","b"]', "[]", None]
    assert got["meta"].to_list() == ['{"k":1}', '{"k":null}', None]
    assert got["qty"].to_list() == [None, None, None]
    errors = [json.loads(e) if e else None for e in got[ERRORS_COLUMN].to_list()]
    assert errors == [{"qty": "[1]"}, {"qty": "[2]"}, None]
