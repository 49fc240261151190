"""Date and datetime parsing: ISO first, the other formats only for what ISO left unparsed."""

from datetime import date, datetime

import polars as pl

from assets.core.spec import ColumnSpec, DatasetSpec
from assets.ingestion.conform import ERRORS_COLUMN, conform
from assets.ingestion.parsing import parse_text

TEXTS = [
    "2024-01-02T10:00:00",
    "2024-01-02 11:00:00.5",
    "2024-01-03",
    "2024-01-03T10:00:00+02:00",
    " 2024-01-04T01:02 ",
    "not a time",
    "",
    None,
]
WANT = [
    datetime(2024, 1, 2, 10),
    datetime(2024, 1, 2, 11, 0, 0, 500000),
    datetime(2024, 1, 3),
    datetime(2024, 1, 3, 8),
    datetime(2024, 1, 4, 1, 2),
    None,
    None,
    None,
]


def test_conform_parses_mixed_formats_and_keeps_what_does_not_parse():
    spec = DatasetSpec.model_validate(
        {
            "name": "t",
            "columns": [{"name": "ts", "type": "datetime"}, {"name": "day", "type": "date"}],
        }
    )
    days = ["2024-01-02", "2024-01-02T10:00:00", "2024/01/05", "x", None, "", "null", "2024-02-30"]
    out = conform(
        pl.LazyFrame({"ts": TEXTS, "day": days}), spec, source_file="f", file_sha256="h"
    ).collect()
    assert out["ts"].to_list() == WANT
    assert (
        out["day"].to_list() == [date(2024, 1, 2), date(2024, 1, 2), date(2024, 1, 5)] + [None] * 5
    )
    assert out[ERRORS_COLUMN].to_list() == [
        None,
        None,
        None,
        '{"day": "x"}',
        None,
        '{"ts": "not a time"}',
        None,
        '{"day": "2024-02-30"}',
    ]
    assert list(out.columns) == [
        "ts",
        "day",
        ERRORS_COLUMN,
        "_source_file",
        "_file_sha256",
        "_row_number",
    ]


def test_the_unstaged_parser_agrees_with_conform():
    got = pl.DataFrame({"t": TEXTS}).select(
        parse_text(pl.col("t"), ColumnSpec(name="x", type="datetime"))
    )
    assert got.to_series().to_list() == WANT
