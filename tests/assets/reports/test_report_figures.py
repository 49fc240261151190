"""Each report's headline figures recomputed from the tables it reads, in DuckDB SQL over the
warehouse (and from Dagster's own run statistics for the pipeline report), never through the
reports' code, then found in the page's text and tables as a reader sees them."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest

DATASETS = ["customers", "orders", "products", "support_tickets", "usage_events"]


class PageReader(HTMLParser):
    """The page's visible text, and each ``<table data-table=...>`` as rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.tables: dict[str, list[list[str]]] = {}
        self._table: str | None = None
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "svg"):
            self._skip += 1
        elif tag == "table":
            self._table = dict(attrs).get("data-table") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "svg"):
            self._skip -= 1
        elif tag == "table":
            self._table = None
        elif tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
            self.parts.append("\t")
        elif tag in ("p", "li", "h1", "h2", "h3", "div", "tr"):
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip:
            return
        self.parts.append(data)
        if self._cell is not None:
            self._cell.append(data)

    @property
    def text(self) -> str:
        return re.sub(r"[ \t]+", " ", "".join(self.parts))

    def rows(self, table: str) -> list[dict[str, str]]:
        """The table's body rows keyed by its header texts."""
        head, *body = self.tables[table]
        return [dict(zip(head, row, strict=True)) for row in body]


def read_page(path: Path) -> PageReader:
    reader = PageReader()
    reader.feed(path.read_text())
    return reader


def warehouse(run) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(run.settings.warehouse_path), read_only=True)


def no_machine_numbers(text: str) -> None:
    """Nothing printed as a float's repr or in scientific notation."""
    assert not re.search(r"\d\.\d+e[+-]\d", text), re.search(r".{40}\d\.\d+e[+-]\d.{20}", text)
    assert not re.search(r"\b\d{4,}\.0\b", text), re.search(r".{40}\b\d{4,}\.0\b.{20}", text)


@pytest.mark.e2e
def test_insights_report_figures_match_the_warehouse(run):
    assert run.result.success
    page = read_page(run.settings.reports_dir / "insights_report.html")
    text = page.text
    with warehouse(run) as con:
        q = con.execute
        first, last, total, lo, hi = q(
            "SELECT min(date), max(date), sum(forecast), sum(lower_95), sum(upper_95) FROM "
            "(SELECT * FROM analytics.revenue_forecast ORDER BY date LIMIT 30)"
        ).fetchone()
        since, until, actual = q(
            "SELECT min(date), max(date), sum(revenue) FROM "
            "(SELECT * FROM enrichment.daily_revenue ORDER BY date DESC LIMIT 30)"
        ).fetchone()
        high, loss = q(
            "SELECT count(*), sum(f.daily_value_rate * 365 * s.churn_probability) "
            "FROM analytics.churn_scores s JOIN features.churn_features_current f "
            "USING (customer_id) WHERE s.risk_band = 'high'"
        ).fetchone()
        bands = dict(
            q("SELECT risk_band, count(*) FROM analytics.churn_scores GROUP BY 1").fetchall()
        )
        confidence = dict(
            q(
                "SELECT category, CASE WHEN ci_high < -1 OR ci_low > -1 THEN 'high' ELSE 'low' "
                "END FROM analytics.price_elasticity WHERE level = 'category' "
                "AND category IS NOT NULL"
            ).fetchall()
        )
        segments = q(
            "SELECT segment_description, count(*), count(*) / sum(count(*)) OVER () "
            "FROM analytics.customer_segments s SEMI JOIN enrichment.customer_profiles p "
            "USING (customer_id) GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
        kinds = dict(
            q("SELECT entity_type, count(*) FROM analytics.anomalies GROUP BY 1").fetchall()
        )
        top_day, top_revenue = q(
            "SELECT a.period, d.revenue FROM analytics.anomalies a JOIN enrichment.daily_revenue d "
            "ON d.date = a.period WHERE a.entity_type = 'day' ORDER BY a.score DESC LIMIT 1"
        ).fetchone()
    # Revenue forecast: the window's dates, the sums and the interval level in one sentence.
    assert f"Data through {until} (the last day of daily revenue)." in text
    assert (
        f"Revenue for the 30 days {first} to {last} (the first 30 days after the data ends on "
        f"{until}) is forecast at EUR {total:,.0f}"
    ) in text
    assert f"({since} to {until}: EUR {actual:,.0f})" in text
    assert (
        f"end of its 95% interval, the 30 days would bring EUR {lo:,.0f} to EUR {hi:,.0f}" in text
    )
    assert "80% interval" not in text  # one interval level: the chart's and the text's
    # Churn: the statement and the band table agree with the scores.
    assert f"{high:,} customers are at high churn risk; their expected lost revenue is " in text
    assert f"EUR {loss:,.0f} a year" in text
    assert {r["risk band"]: r["customers"] for r in page.rows("risk-bands")} == {
        band: f"{n:,}" for band, n in bands.items()
    }
    # Pricing: the stated rule, recomputed, gives every category's confidence.
    assert "lies on one side of -1" in text
    assert {r["category"]: r["confidence"] for r in page.rows("pricing")} == confidence
    for row in page.rows("recommendations"):
        if row["target"].startswith("category "):
            assert row["confidence"] == confidence[row["target"].removeprefix("category ")]
    # Segments: current customers per segment and their share.
    assert [
        (r["segment"], r["customers"], r["share of customers"]) for r in page.rows("segments")
    ] == [(name, f"{n:,}", f"{share:.1%}") for name, n, share in segments]
    # Anomalies: every kind counted, the strongest day with its revenue in EUR.
    assert (
        f"{kinds.get('day', 0):,} days, {kinds.get('product', 0):,} product-weeks and "
        f"{kinds.get('customer', 0):,} customers were flagged"
    ) in text
    first_day = page.rows("anomalous-days")[0]
    assert (first_day["date"], first_day["revenue"]) == (str(top_day), f"EUR {top_revenue:,.0f}")
    assert page.rows("anomalous-products") and page.rows("anomalous-customers")
    no_machine_numbers(text)


@pytest.mark.e2e
def test_quality_report_figures_match_the_warehouse(run):
    page = read_page(run.settings.reports_dir / "quality_report.html")
    text = page.text
    rows = {r["dataset"]: r for r in page.rows("datasets")}
    assert sorted(rows) == DATASETS
    with warehouse(run) as con:
        q = con.execute
        total = 0
        for d in DATASETS:
            raw, valid, quarantined = q(
                f"SELECT (SELECT count(*) FROM ingestion.raw_{d}), "  # noqa: S608 - fixed names
                f"(SELECT count(*) FROM validation.validated_{d}), "
                f"(SELECT count(*) FROM validation.quarantined_{d})"
            ).fetchone()
            total += quarantined
            assert (
                rows[d]["rows in"],
                rows[d]["valid rows"],
                rows[d]["rows quarantined"],
                rows[d]["exact duplicates removed"],
            ) == (f"{raw:,}", f"{valid:,}", f"{quarantined:,}", f"{raw - valid - quarantined:,}")
        scores = q(
            "SELECT dataset, arg_max(value, recorded_at) FROM validation.quality_history "
            "WHERE metric = 'overall_score' GROUP BY 1 ORDER BY 2, 1"
        ).fetchall()
        rule_rows = q(
            " UNION ALL ".join(
                f"SELECT '{d}' AS dataset, array_to_string(_rules, ' + '), count(*) AS n "  # noqa: S608
                f"FROM validation.quarantined_{d} GROUP BY 2"
                for d in DATASETS
            )
        ).fetchall()
        rules = page.rows("rules")
        for row in rules[:5]:
            first = row["examples"].splitlines()[0]
            reason, file, number = re.fullmatch(r"(.*) \((.+), row (\d+)\)", first).groups()
            found = q(
                f"SELECT _reason FROM validation.quarantined_{row['dataset']} "  # noqa: S608
                "WHERE _source_file = ? AND _row_number = ?",
                [file, int(number)],
            ).fetchall()
            assert found == [(reason,)], row  # the example names the row it came from
    lowest, score = scores[0]
    assert (
        f"{total:,} rows quarantined across {len(DATASETS)} datasets in their latest validation "
        f"runs; lowest quality score {score:.2f} of 100 ({lowest})"
    ) in text
    assert {d: r["quality score (0-100)"] for d, r in rows.items()} == {
        d: f"{s:.2f}" for d, s in scores
    }
    assert {(r["dataset"], r["rules"]): r["rows"] for r in rules} == {
        (d, rule): f"{n:,}" for d, rule, n in rule_rows
    }
    for row in rules:  # examples differ from each other
        lines = row["examples"].splitlines()
        assert len(lines) == len(set(lines)) == min(2, int(row["different reasons"]))
    # The score once, under one name (it was printed twice, as two columns).
    header = page.tables["datasets"][0]
    assert header.count("quality score (0-100)") == 1 and "overall_score" not in header
    no_machine_numbers(text)


@pytest.mark.e2e
def test_pipeline_report_figures_match_dagsters_run_statistics(run):
    page = read_page(run.settings.reports_dir / "pipeline_report.html")
    text = page.text
    run_id = run.result.run_id
    stats = {s.step_key: s for s in run.instance.get_run_step_stats(run_id)}
    run_start = run.instance.get_run_stats(run_id).start_time
    report_start = stats.pop("pipeline_report").start_time
    steps = {r["step"]: r for r in page.rows("steps")}
    assert sorted(steps) == sorted(stats)  # each step once, this report's own excepted
    for key, stat in stats.items():
        shown = float(steps[key]["seconds"].removesuffix(" s").replace(",", ""))
        # Printed to 0.01 s, or 0.1 s from 100 s up.
        assert shown == pytest.approx(stat.end_time - stat.start_time, abs=0.051), key
    # The steps the reader found at 0 s: timed now.
    for key in ("sample_landing_data", "insights_report", "quality_report"):
        assert float(steps[key]["seconds"].removesuffix(" s")) > 0, key
    elapsed = float(
        re.search(r"finished in the ([\d,.]+) s before", text).group(1).replace(",", "")
    )
    assert elapsed == pytest.approx(report_start - run_start, abs=0.051)
    assert f"{len(stats):,} steps finished" in text
    with warehouse(run) as con:
        raw = sum(
            con.execute(f"SELECT count(*) FROM ingestion.raw_{d}").fetchone()[0]  # noqa: S608
            for d in DATASETS
        )
    # Validation read every raw row once: one step per dataset, not one per output table.
    stages = {r["stage"]: r for r in page.rows("stages")}
    assert "other" not in stages, page.rows("steps")  # every step named by its asset's group
    assert stages["validation"]["steps"] == str(len(DATASETS))
    assert stages["validation"]["rows"] == f"{raw:,}"
    assert steps["sample_landing_data"]["rows"] == f"{raw:,}"  # the rows it generated
    assert steps["validate_orders"]["assets"] == "quarantined_orders, validated_orders"
    no_machine_numbers(text)
