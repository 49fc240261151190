"""data_dictionary in a real run: three datasets landed, ingested and validated, then the
dictionary materialized; its pages are checked against DuckDB SQL over the validated Parquet
and quality_history, searched for personal values, and opened in headless Chromium."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import numpy as np
import polars as pl
import pytest
from PIL import Image

from assets.generator import GeneratorConfig, generate_dataset
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from tests.assets.reports.test_report_figures import read_page
from tests.runs import datasets_of, materialize
from tests.servers import BROWSER_ARGS, chromium_path

DATASETS = ("customers", "orders", "products")


@dataclass(frozen=True)
class DictionaryRun:
    settings: Settings
    result: dg.ExecuteInProcessResult

    @property
    def folder(self) -> Path:
        return self.settings.reports_dir / "dictionary"

    def validated(self, dataset: str) -> str:
        return str(self.settings.data_dir / "lake" / "validation" / f"validated_{dataset}")


# One worker for the module: its module fixture builds a lake every worker would build again.
pytestmark = pytest.mark.xdist_group("dictionary_asset")


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> DictionaryRun:
    root = tmp_path_factory.mktemp("dictionary")
    settings = Settings.from_env(
        {"PIPELINE_DATA_DIR": str(root / "data"), "PIPELINE_DATASETS_DIR": str(root / "datasets")}
    )
    generate_dataset(
        settings.data_dir / "landing",
        GeneratorConfig(customers=300, orders=3000, fmt="csv", defect_rates={}),
    )
    selection = datasets_of(*DATASETS) | dg.AssetSelection.assets("data_dictionary")
    return DictionaryRun(settings, materialize(settings, selection))


def _materialization(run: DictionaryRun, asset: str) -> dg.AssetMaterialization:
    (event,) = [
        e.materialization
        for e in run.result.get_asset_materialization_events()
        if e.materialization.asset_key.path == [asset]
    ]
    return event


def test_pages_are_written_and_recorded(run: DictionaryRun):
    assert run.result.success
    meta = _materialization(run, "data_dictionary").metadata
    pages = meta["pages"].value
    assert sorted(pages) == sorted(DATASETS)  # type: ignore[arg-type]
    for d in DATASETS:
        assert Path(pages[d]).exists() and Path(pages[d]).parent == run.folder  # type: ignore[index]
    index = read_page(run.folder / "index.html")
    assert [r["dataset"] for r in index.rows("datasets")] == sorted(DATASETS)
    # Nothing half-written is left beside the pages.
    assert not [p for p in run.folder.iterdir() if p.name.startswith(".")]


def test_orders_page_matches_sql_over_the_validated_table(run: DictionaryRun):
    page = read_page(run.folder / "orders.html")
    rows = {r["column"]: r for r in page.rows("columns")}
    parts = f"{run.validated('orders')}/**/*.parquet"
    with duckdb.connect() as con:
        (n,) = con.execute("SELECT count(*) FROM read_parquet(?)", [parts]).fetchall()[0]
        assert f"{n:,} validated rows" in page.text
        for column in ("order_id", "quantity", "unit_price", "discount", "channel"):
            nulls, distinct = con.execute(
                f"SELECT count(*) FILTER (WHERE {column} IS NULL), "  # noqa: S608 - fixed names
                f"count(DISTINCT {column}) FROM read_parquet(?)",
                [parts],
            ).fetchall()[0]
            share = nulls / n
            assert (
                rows[column]["null share"]
                == f"{share:.2%} ({nulls:,} {'row' if nulls == 1 else 'rows'})"
            )
            assert rows[column]["distinct values"] == f"{distinct:,}"
        history = str(run.settings.data_dir / "lake" / "validation" / "quality_history")
        coverage = con.execute(
            "SELECT metric, arg_max(value, recorded_at) FROM read_parquet(?) "
            "WHERE dataset = 'orders' AND metric LIKE 'referential:%' GROUP BY 1 ORDER BY 1",
            [f"{history}/*.parquet"],
        ).fetchall()
    shown = {r["foreign key"]: r["coverage (latest run)"] for r in page.rows("foreign-keys")}
    assert shown == {
        "foreign key customer_id -> customers.customer_id": f"{coverage[0][1]:.2%}",
        "foreign key product_id -> products.product_id": f"{coverage[1][1]:.2%}",
    }


def test_customers_page_shows_no_personal_value(run: DictionaryRun):
    html = (run.folder / "customers.html").read_text()
    personal = (
        pl.scan_parquet(f"{run.validated('customers')}/**/*.parquet")
        .select("name", "email", "phone", pl.col("birth_date").cast(pl.String))
        .unpivot()
        .select(pl.col("value").drop_nulls().unique())
        .collect()["value"]
        .to_list()
    )
    assert len(personal) > 300
    assert [v for v in personal if v in html] == []
    rows = {r["column"]: r for r in read_page(run.folder / "customers.html").rows("columns")}
    for column in ("name", "email", "phone", "birth_date"):
        assert rows[f"{column}PII"]["distribution"] == "personal data: values not shown"
        assert rows[f"{column}PII"]["minimum"] == rows[f"{column}PII"]["maximum"] == ""


def test_validated_assets_carry_the_spec_in_the_ui(run: DictionaryRun):
    defs = build_definitions(run.settings)
    spec = defs.resolve_assets_def("validated_customers").specs_by_key[
        dg.AssetKey("validated_customers")
    ]
    assert spec.metadata["data_dictionary"].path == str(run.folder / "customers.html")
    schema = _materialization(run, "validated_orders").metadata["dagster/column_schema"].schema  # type: ignore[attr-defined]
    columns = {c.name: c for c in schema.columns}
    assert columns["order_id"].description == "Stable order identifier"
    assert not columns["order_id"].constraints.nullable and columns["order_id"].constraints.unique
    assert columns["channel"].constraints.other == ["one of: web, mobile, store, partner"]
    assert "foreign key product_id -> products.product_id (error)" in schema.constraints.other
    declared = spec.metadata["dagster/column_schema"]
    assert {c.name: c.tags for c in declared.columns}["email"] == {"pii": "true"}


@pytest.mark.e2e
def test_page_renders_offline_in_chromium(run: DictionaryRun, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    browser_path = chromium_path()
    if browser_path is None:
        pytest.skip("Chromium not installed: apt-get install chromium (.ci/run installs it)")
    shot = tmp_path / "orders.png"
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto((run.folder / "orders.html").resolve().as_uri(), wait_until="load")
            charts = page.evaluate(
                "[...document.querySelectorAll('td svg')].map(s => s.getBoundingClientRect())"
                ".map(r => [r.width, r.height])"
            )
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    # Every column of every table fits the reader's window: nothing to scroll sideways to.
    assert overflow <= 0, (overflow, str(shot))
    # The page alone: no stylesheet, font or script fetched from anywhere.
    assert requests == [(run.folder / "orders.html").resolve().as_uri()]
    # A null-share bar per column and a distribution chart per column with one drawn.
    assert len(charts) >= 9 + 7 and all(w > 0 and h > 0 for w, h in charts)
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    ink = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())
    assert ink > 5_000, (ink, str(shot))
