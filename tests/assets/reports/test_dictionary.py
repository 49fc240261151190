"""The data dictionary on a hand-built table: each figure recomputed in DuckDB SQL over the
Parquet file the dictionary read, and no personal value anywhere on the page."""

from __future__ import annotations

import re
from datetime import date, datetime
from html import unescape
from pathlib import Path
from typing import Literal

import duckdb
import polars as pl
import pytest

from assets.core.spec import DatasetSpec
from assets.reports.dictionary import BINS, TOP_VALUES, dictionary
from assets.reports.dictionary_page import dataset_page, index_page
from tests.assets.reports.test_report_figures import PageReader

SPEC = DatasetSpec.model_validate(
    {
        "name": "members",
        "description": "One row per club member.",
        "key": ["member_id"],
        "columns": [
            {"name": "member_id", "type": "integer", "required": True, "unique": True},
            {"name": "email", "type": "string", "pii": True, "pattern": "email"},
            {"name": "birth_date", "type": "date", "pii": True, "description": "Born on"},
            {"name": "plan", "type": "string", "allowed": ["gold", "silver", "bronze"]},
            {"name": "fee", "type": "float", "min": 0, "description": "Monthly fee, EUR"},
            {"name": "joined", "type": "date", "required": True},
            {"name": "club_id", "type": "integer"},
        ],
        "foreign_keys": [
            {"columns": ["club_id"], "references": "clubs", "ref_columns": ["club_id"]}
        ],
        "rules": [
            {
                "name": "fee_cap",
                "kind": "expression",
                "expression": "fee <= 500",
                "severity": "warn",
            }
        ],
    }
)
N = 40
FRAME = pl.DataFrame(
    {
        "member_id": list(range(N)),
        "email": [f"zq{i}x@private-mail.example" if i % 4 else None for i in range(N)],
        "birth_date": [date(1961, 1 + i % 12, 1 + i % 27) for i in range(N)],
        "plan": [["gold", "silver", "silver", None, "bronze"][i % 5] for i in range(N)],
        "fee": [None if i % 8 == 0 else 10.0 + 7.5 * i for i in range(N)],
        "joined": [date(2024, 1, 1 + i % 28) for i in range(N)],
        "club_id": [i % 3 for i in range(N)],
    },
    schema={c.name: c.polars_type for c in SPEC.columns},
)
HISTORY = pl.DataFrame(
    {
        "run_id": ["r1", "r2", "r2"],
        "dataset": ["members"] * 3,
        "metric": ["referential:club_id->clubs", "referential:club_id->clubs", "rows_in"],
        "value": [0.5, 0.875, float(N)],
        "recorded_at": [datetime(2026, 1, 1), datetime(2026, 1, 2, 6), datetime(2026, 1, 2, 6)],
    }
)
GENERATED = datetime(2026, 1, 2, 9)


@pytest.fixture
def parquet(tmp_path: Path) -> Path:
    path = tmp_path / "members.parquet"
    FRAME.write_parquet(path)
    return path


def test_columns_and_null_shares_match_sql_on_the_parquet(parquet: Path):
    book = dictionary(pl.scan_parquet(parquet), SPEC, HISTORY)
    html = dataset_page(book, GENERATED)
    page = read_page_text(html)
    rows = {r["column"].removesuffix("PII"): r for r in page.rows("columns")}
    assert list(rows) == [c.name for c in SPEC.columns]
    with duckdb.connect() as con:
        for c in SPEC.columns:
            nulls, share, distinct = con.execute(
                f'SELECT count(*) FILTER (WHERE "{c.name}" IS NULL), '  # noqa: S608 - spec names
                f'count(*) FILTER (WHERE "{c.name}" IS NULL) / count(*), '
                f'count(DISTINCT "{c.name}") FROM read_parquet(?)',
                [str(parquet)],
            ).fetchall()[0]
            assert (
                rows[c.name]["null share"]
                == f"{share:.2%} ({nulls:,} {'row' if nulls == 1 else 'rows'})"
            ), c.name
            assert rows[c.name]["distinct values"] == f"{distinct:,}", c.name
            assert rows[c.name]["type"] == c.type
        lo, hi = con.execute(
            "SELECT min(fee), max(fee) FROM read_parquet(?)", [str(parquet)]
        ).fetchall()[0]
        assert (rows["fee"]["minimum"], rows["fee"]["maximum"]) == (f"{lo:g}", f"{hi:g}")
        # The top values' list is what the chart draws: the same counts, most frequent first.
        plans = con.execute(
            "SELECT plan, count(*) FROM read_parquet(?) WHERE plan IS NOT NULL "
            "GROUP BY 1 ORDER BY 2 DESC, 1",
            [str(parquet)],
        ).fetchall()
    listed = re.findall(r"^(.+): ([\d,]+) rows$", distribution_list(html, "plan"), re.M)
    assert listed == [(p, f"{n:,}") for p, n in plans]  # ties in value order
    assert len(plans) <= TOP_VALUES
    assert "fee_cap" in page.text and "fee <= 500" in page.text
    assert rows["fee"]["description"] == "Monthly fee, EUR"
    assert rows["member_id"]["rules"] == "required\nunique"
    assert "one of: gold, silver, bronze" in rows["plan"]["rules"]


def test_histogram_counts_every_present_value_once(parquet: Path):
    book = dictionary(pl.scan_parquet(parquet), SPEC, HISTORY)
    bins = book.distributions["fee"]
    assert bins.height == BINS and "fee" in book.binned
    assert bins["rows"].sum() == FRAME["fee"].drop_nulls().len()
    # Few distinct whole numbers get a bar each, in value order.
    assert book.distributions["club_id"].rows() == [("0", 14), ("1", 13), ("2", 13)]


def test_foreign_key_coverage_is_the_latest_runs(parquet: Path):
    book = dictionary(pl.scan_parquet(parquet), SPEC, HISTORY)
    fk = read_page_text(dataset_page(book, GENERATED)).rows("foreign-keys")
    assert [(r["coverage (latest run)"], r["threshold"], r["check"]) for r in fk] == [
        ("87.50%", "99.00%", "members_reference_clubs")
    ]
    text = read_page_text(dataset_page(book, GENERATED)).text
    assert "Latest row: 2024-01-28 (largest joined)." in text
    assert "Latest validation run: 2026-01-02 06:00:00 UTC (3.0 hours before this page)" in text


def test_freshness_names_the_column_the_spec_judges_and_its_limits(parquet: Path):
    text = read_page_text(
        dataset_page(dictionary(pl.scan_parquet(parquet), SPEC, HISTORY), GENERATED)
    ).text
    assert "no freshness.column, so the rows' own times are not judged" in text
    judged = SPEC.model_copy(
        update={
            "freshness": SPEC.freshness.model_copy(
                update={"column": "joined", "max_lag_hours": 48.0, "warn_after_hours": 24.0}
            )
        }
    )
    text = read_page_text(
        dataset_page(dictionary(pl.scan_parquet(parquet), judged, HISTORY), GENERATED)
    ).text
    assert "Latest row: 2024-01-28 (largest joined)." in text
    assert (
        "Freshness limit: the newest joined may be 48.0 hours old; the members_fresh check "
        "warns after 24.0 hours, fails past that, on every ingestion run."
    ) in text


def test_no_personal_value_reaches_the_page(parquet: Path):
    book = dictionary(pl.scan_parquet(parquet), SPEC, HISTORY)
    html = dataset_page(book, GENERATED) + index_page([book], GENERATED)
    personal = FRAME.select("email", pl.col("birth_date").cast(pl.String)).unpivot()["value"]
    values = personal.drop_nulls().to_list()
    assert values and not [v for v in values if v in html]
    # Not even their masks, or their range.
    assert "private-mail" not in html and "1961" not in html
    assert set(book.distributions) == {"member_id", "plan", "fee", "joined", "club_id"}


def read_page_text(html: str) -> PageReader:
    reader = PageReader()
    reader.feed(html)
    return reader


def distribution_list(html: str, column: str) -> str:
    """The rows per value listed under a column's chart, one ``value: n rows`` a line."""
    found = re.search(rf'<div data-list="{column}">(.*?)</div>', html, re.S)
    assert found, column
    return unescape(found.group(1))


@pytest.mark.parametrize("unit", ["ns", "us", "ms"])
def test_date_and_time_bins_run_from_the_first_value_to_the_last(unit: Literal["ns", "us", "ms"]):
    spec = DatasetSpec.model_validate(
        {"name": "visits", "columns": [{"name": "at", "type": "datetime"}]}
    )
    times = pl.datetime_range(datetime(2026, 3, 1), datetime(2026, 3, 11), "1h", eager=True)
    frame = pl.LazyFrame({"at": times.cast(pl.Datetime(unit))})
    book = dictionary(frame, spec, HISTORY)
    bins = book.distributions["at"]
    assert bins["value"][0] == "2026-03-01 00:00:00 UTC to 2026-03-02 00:00:00 UTC"
    assert bins["value"][-1].endswith(" to 2026-03-11 00:00:00 UTC")
    assert bins["rows"].sum() == times.len()
    joined = dictionary(pl.LazyFrame(FRAME), SPEC, HISTORY).distributions["joined"]
    assert joined["value"][0].startswith("2024-01-01 to ")
    assert joined["value"][-1].endswith(" to 2024-01-28")


def test_a_column_named_like_the_counts_is_counted():
    spec = DatasetSpec.model_validate(
        {"name": "t", "columns": [{"name": "len"}, {"name": "rows", "type": "integer"}]}
    )
    frame = pl.DataFrame({"len": ["a", "b", "a", None], "rows": [1, 1, 2, None]})
    book = dictionary(frame.lazy(), spec, HISTORY)
    assert book.columns["distinct"].to_list() == [2, 2]
    assert book.distributions["len"].rows() == [("a", 2), ("b", 1)]
    assert book.distributions["rows"].rows() == [("1", 2), ("2", 1)]


def test_a_value_on_a_bin_edge_counts_in_the_bin_it_closes_as_the_page_says():
    """Bins hold (lower, upper], the first also the minimum: 138 horsepower counts in
    "120 to 138", as the page's method line says, where a floor-based reading put it in the
    next bin. The counts are DuckDB's for that rule."""
    spec = DatasetSpec.model_validate(
        {"name": "cars", "columns": [{"name": "hp", "type": "float"}]}
    )
    values = [float(v) for v in range(0, 101)]  # 0..100: edges at 10, 20, ..., 100
    book = dictionary(pl.LazyFrame({"hp": values}), spec, HISTORY)
    counts = book.distributions["hp"]["rows"].to_list()
    with duckdb.connect() as con:
        # (lower, upper] for every bin; the minimum 0 joins the first.
        found = con.execute(
            "SELECT greatest(ceil(v / 10) - 1, 0) AS bin, count(*) FROM range(0, 101) t(v) "
            "GROUP BY bin ORDER BY bin"
        ).fetchall()
    expected = [int(n) for _bin, n in found]
    assert counts == expected == [11] + [10] * 9
    text = read_page_text(dataset_page(book, GENERATED)).text
    assert "up to and including its upper edge (the first also holds the minimum)" in text
