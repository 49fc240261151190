"""The fast cast path in ``conform`` gives what the full parser gives, value for value.

``conform`` casts each column's usual spelling with the cheapest parser and runs the full parser
(whitespace, null tokens, every date format, integral floats) only on what that left, one batch
at a time and only on the batch's rows that hold such a text (``_leftovers``). The full parser
on its own is ``_typed``, which profiling also uses; these tests hold the two to the same
answer.
"""

import json
from datetime import datetime

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_series_equal

from assets.core.spec import DatasetSpec
from assets.ingestion.conform import ERRORS_COLUMN, _typed, conform, null_values_of


def spec_of(**types: str) -> DatasetSpec:
    """A dataset ``t`` with the given column names and types, in that order."""
    columns = [{"name": name, "type": kind} for name, kind in types.items()]
    return DatasetSpec.model_validate({"name": "t", "columns": columns})


SIMPLE = spec_of(i="integer", f="float", d="date", ts="datetime", b="boolean", s="string")
# The parsing fields change the fast parser too (a sentinel null value, a zone, a format, a unit).
SPEC = DatasetSpec.model_validate(
    {
        "name": "t",
        "columns": [
            *[c.model_dump(exclude_defaults=True) for c in SIMPLE.columns],
            {"name": "sn", "type": "integer", "null_values": ["-999", "NA"]},
            {"name": "tz", "type": "datetime", "timezone": "Europe/Paris"},
            {"name": "zd", "type": "date", "timezone": "Asia/Tokyo"},
            {"name": "fd", "type": "date", "format": "%d/%m/%Y"},
            {"name": "ep", "type": "datetime", "unit": "ms"},
        ],
    }
)

NUMBERS = ["5", " 5", "5 ", "+5", "-3", "5.0", "5.5", "1e3", "nan", "inf", "1,5", "0x10", "N/A"]
# Spellings only the full parser takes (whitespace), including the letters-only floats.
NUMBERS += [" nan", "-inf ", " Infinity", " NaN ", "+inf", " -1e3", ". 5", "e"]
DAYS = ["2024-01-02", "2024-1-2", " 2024-01-02", "2024/01/05", "2024-01-02T10:00:00", "2024-02-30"]
DAYS += ["2024-01-02T23:00:00Z", "02/01/2024", "2/1/2024 ", "31/02/2024"]
TIMES = [
    "2024-01-02T10:00:00",
    "2024-01-02T10:00:00.25",
    "2024-01-02 11:00:00.5",
    " 2024-01-02T10:00:00",
    "2024-01-02T10:00",
    "2024-01-03T10:00:00+02:00",
    "2024-01-03T10:00:00Z",
    "2024-01-03T10:00:00.5+0530",
    "2024-01-03 10:00:00+00",
    "2024-03-31T02:30:00",
    "2024-01-03",
    "2024-13-03T10:00:00",
]
SHARED = ["", "  ", "null", "NULL", "None", " null ", "NA", " N/A", "NaN", "x", "\u00e9t\u00e9"]
SHARED += ['a "quote"\nline', "#VALUE!"]


def text(choices: list[str]) -> st.SearchStrategy[str | None]:
    return st.one_of(st.none(), st.sampled_from(choices + SHARED))


ROWS = st.lists(
    st.fixed_dictionaries(
        {
            "i": text(NUMBERS),
            "f": text(NUMBERS),
            "d": text(DAYS),
            "ts": text(TIMES),
            "b": text(["true", "F", "yes", "0", "2"]),
            "s": text(["a", " b "]),
            "sn": text([*NUMBERS, "-999", " -999", "-999.0"]),
            "tz": text(TIMES),
            "zd": text(DAYS),
            "fd": text(DAYS),
            "ep": text([*NUMBERS, "1357020000123", "1357020000123.5", "1e300"]),
        }
    ),
    min_size=1,
    max_size=60,
)


def full_parser(frame: pl.DataFrame) -> pl.DataFrame:
    """Each column through ``_typed`` alone: the full parser on every value, no fast path."""
    exprs = []
    for col in SPEC.columns:
        value, failed = _typed(col.name, pl.String(), col, null_values_of(SPEC, col))
        exprs += [value.alias(col.name), failed.alias(f"failed_{col.name}")]
    return frame.select(exprs)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ROWS)
def test_conform_agrees_with_the_full_parser(rows):
    frame = pl.DataFrame(rows, schema=dict.fromkeys(SPEC.column_map, pl.String))
    got = conform(frame.lazy(), SPEC, source_file="f", file_sha256="h").collect()
    want = full_parser(frame)
    for col in SPEC.columns:
        assert_series_equal(got[col.name], want[col.name])  # NaN equals NaN here
    # The failure text: every column whose present text did not cast, as a JSON object.
    errors = [json.loads(e) if e else {} for e in got[ERRORS_COLUMN].to_list()]
    for col in SPEC.columns:
        failed = want[f"failed_{col.name}"].to_list()
        if col.type == "string":
            assert failed == [None] * len(failed)
        assert [e.get(col.name) for e in errors] == failed, col.name


def test_conform_streams_many_batches_with_sparse_failures():
    """Streaming (several batches), failures in some batches only, and whole batches clean."""
    n = 300_000
    frame = pl.DataFrame(
        {
            "i": pl.select(
                pl.when(pl.int_range(n) % 100_003 != 7)
                .then(pl.int_range(n).cast(pl.String))
                .otherwise(pl.lit("#VALUE!"))
            ).to_series(),
            "ts": ["2024-01-02T10:00:00"] * (n - 2) + ["2024-01-02 10:00", "soon"],
        }
    )
    spec = spec_of(i="integer", ts="datetime")
    got = conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect(engine="streaming")
    assert got.height == n
    bad = [7, 100_010, 200_013]
    assert got["i"].is_null().arg_true().to_list() == bad
    assert got["i"].sum() == sum(range(n)) - sum(bad)
    assert got["ts"][-2] == datetime(2024, 1, 2, 10, 0)
    assert got["ts"].is_null().arg_true().to_list() == [n - 1]
    assert got.filter(pl.col(ERRORS_COLUMN).is_not_null())[ERRORS_COLUMN].to_list() == [
        '{"i": "#VALUE!"}',
        '{"i": "#VALUE!"}',
        '{"i": "#VALUE!"}',
        '{"ts": "soon"}',
    ]


def test_leftovers_keep_positions_and_the_failures_keep_the_spec_order():
    """Failures in several columns of one row, from the batch parser and from a typed source.

    ``b`` (boolean) is checked without a fast parse, ``f`` comes typed (a Parquet-like float
    source, whose pair is made natively), ``i`` and ``ts`` go through the fast parse; the pairs
    of a row follow the spec order whichever way each was made.
    """
    n = 250_000
    bad = {3: "zz", 120_001: "#VALUE!", n - 1: "  "}
    frame = pl.DataFrame(
        {
            "ts": ["2024-01-02T10:00:00"] * n,
            "i": [str(k) for k in range(n)],
            "f": [1.0] * n,  # whole numbers: an integer column takes them, as it takes "1.0"
            "b": ["yes"] * n,
        }
    ).with_columns(
        pl.when(pl.int_range(n).is_in(list(bad)))
        .then(pl.int_range(n).replace_strict(bad, default=None))
        .otherwise(pl.col(c))
        .alias(c)
        for c in ("ts", "i", "b")
    )
    frame = frame.with_columns(
        pl.when(pl.int_range(n) == 3).then(float("inf")).otherwise(pl.col("f")).alias("f"),
        # one row that only the full parser reads: whitespace around a valid timestamp
        pl.when(pl.int_range(n) == 7)
        .then(pl.lit(" 2024-01-03T10:00:00"))
        .otherwise(pl.col("ts"))
        .alias("ts"),
    )
    spec = spec_of(b="boolean", f="integer", i="integer", ts="datetime")
    got = conform(frame.lazy(), spec, source_file="f", file_sha256="h").collect(engine="streaming")
    assert got.height == n
    flagged = got.with_row_index("k").filter(pl.col(ERRORS_COLUMN).is_not_null())
    assert flagged["k"].to_list() == [3, 120_001]
    assert flagged[ERRORS_COLUMN].to_list() == [
        '{"b": "zz", "f": "inf", "i": "zz", "ts": "zz"}',
        '{"b": "#VALUE!", "i": "#VALUE!", "ts": "#VALUE!"}',
    ]
    # A null token is null, not a failure; the whitespace-padded timestamp parses.
    assert got.row(n - 1, named=True)["i"] is None
    assert got["ts"][7] == datetime(2024, 1, 3, 10, 0)
    assert got["i"].null_count() == 3
    assert got["b"].null_count() == 3


def test_an_integer_is_digits_with_at_most_a_zero_fraction() -> None:
    """Codes such as 0E8 are not the number 0: scientific notation is a type error in an
    integer column (a float column takes it), and a zero fraction keeps every digit."""
    col = SIMPLE.column_map["i"]
    texts = ["5.0", "-3.00", "+7.", "0E8", "0E0", "1e3", "5.5", "9007199254740993.0"]
    value, failed = _typed("i", pl.String(), col)
    got = pl.DataFrame({"i": texts}).select(value.alias("v"), failed.alias("f"))
    assert got["v"].to_list() == [5, -3, 7, None, None, None, None, 9007199254740993]
    assert got["f"].to_list() == [None, None, None, "0E8", "0E0", "1e3", "5.5", None]
    # Through conform's fast path too.
    typed = conform(
        pl.LazyFrame({"i": texts}), spec_of(i="integer"), source_file="t.csv", file_sha256="h"
    )
    assert typed.collect()["i"].to_list() == [5, -3, 7, None, None, None, None, 9007199254740993]


def test_a_year_must_be_written_in_full() -> None:
    """Polars' %Y reads 12 as the year 12: a date whose year is not written in four digits is
    a type error, by the fast path and the full parser alike, with a format or without."""
    spec = DatasetSpec.model_validate(
        {
            "name": "t",
            "columns": [
                {"name": "us", "type": "date", "format": "%m/%d/%Y"},
                {"name": "iso", "type": "date"},
                {"name": "ts", "type": "datetime"},
                {"name": "short", "type": "date", "format": "%m/%d/%y"},
            ],
        }
    )
    texts = {
        "us": ["1/1/12", "1/1/2012", "12/31/0012"],
        "iso": ["12-01-01", "2012-01-01", "0012-01-01"],
        "ts": ["12-01-01T10:00:00", "2012-01-01T10:00:00", "0012-01-01 10:00:00"],
        "short": ["1/1/12", "12/31/99", "1/1/2012"],
    }
    typed = conform(pl.LazyFrame(texts), spec, source_file="t.csv", file_sha256="h").collect()
    years = {c: [v.year if v else None for v in typed[c]] for c in texts}
    assert years == {
        "us": [None, 2012, 12],
        "iso": [None, 2012, 12],
        "ts": [None, 2012, 12],
        "short": [2012, 1999, None],
    }
    for name in texts:  # the full parser on its own agrees
        col = spec.column_map[name]
        value, _failed = _typed(name, pl.String(), col)
        full = pl.DataFrame({name: texts[name]}).select(value.alias("v"))["v"]
        assert [v.year if v else None for v in full] == years[name], name
