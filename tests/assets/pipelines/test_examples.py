"""The shipped examples, in real runs: a user dataset (invoices) and a declarative pipeline.

A spec in a test directory must become assets that materialize, validate and quarantine exactly
as the built-in ones do; the pipeline's CSV and PostgreSQL outputs must equal the same computation
written by hand in Polars.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import psycopg
import pytest
from polars.testing import assert_frame_equal

from assets.core.spec import SpecError
from assets.core.storage import LakeAt
from assets.generator import GeneratorConfig, generate_dataset
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from tests.runs import materialize, upstream_of

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
pytestmark = pytest.mark.e2e


def _settings(tmp_path: Path, pg_url: str | None) -> Settings:
    env = {
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
    }
    if pg_url:
        env["PIPELINE_PG_URL"] = pg_url
    return Settings.from_env(env)


@pytest.fixture
def example_root(tmp_path: Path) -> Path:
    shutil.copytree(EXAMPLES / "datasets", tmp_path / "datasets")
    landing = tmp_path / "data" / "landing"
    generate_dataset(landing, GeneratorConfig(customers=400, orders=4000, fmt="csv"))
    shutil.copytree(EXAMPLES / "landing" / "invoices", landing / "invoices")
    return tmp_path


def test_invoices_spec_becomes_assets_that_validate_and_quarantine_like_the_builtins(
    example_root: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PIPELINE_PG_URL", pg_url)
    settings = _settings(example_root, pg_url)
    defs = build_definitions(settings)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw_invoices", "validated_invoices", "quarantined_invoices"} <= keys
    # Same checks as a built-in entity, named after the dataset.
    check_names = {k.name for k in defs.resolve_asset_graph().asset_check_keys}
    for builtin in ("orders_validity_at_least_threshold", "orders_contract_conforms"):
        assert builtin.replace("orders", "invoices") in check_names

    result = materialize(
        settings,
        dg.AssetSelection.groups("ingestion", "validation")
        - dg.AssetSelection.assets("sample_landing_data"),
    )
    assert result.success
    src = pl.read_csv(EXAMPLES / "landing" / "invoices" / "invoices-2025-01.csv")
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        valid = con.execute("SELECT count(*) FROM validation.validated_invoices").fetchone()
        bad = con.execute(
            "SELECT invoice_id, _rules FROM validation.quarantined_invoices ORDER BY invoice_id"
        ).fetchall()
    assert valid is not None and valid[0] + len(bad) == src.height  # nothing lost
    rules = dict(bad)
    assert set(rules) == {"INV-000007", "INV-000013", "INV-000019"}
    assert rules["INV-000007"] == ["fk:customer_id->customers"]
    assert any("amount" in r for r in rules["INV-000013"])
    assert "rule:due_after_issue" in rules["INV-000019"]
    # Input files are never modified.
    landed = example_root / "data" / "landing" / "invoices" / "invoices-2025-01.csv"
    assert landed.read_bytes() == (EXAMPLES / "landing/invoices/invoices-2025-01.csv").read_bytes()


CENT = 0.0101


def test_revenue_pipeline_writes_csv_and_postgres_equal_to_a_hand_computation(
    example_root: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("PIPELINE_PG_URL", pg_url)
    settings = _settings(example_root, pg_url)
    result = materialize(
        settings,
        upstream_of("revenue_by_region_month"),
    )
    assert result.success
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["revenue_by_region_month_uniqueness_country_region_month"]
    assert all(checks.values()), checks

    lake = LakeAt(str(settings.data_dir / "lake"))
    orders = lake.scan("validation", "validated_orders").collect()
    customers = lake.scan("validation", "validated_customers").collect()
    want = (
        orders.filter(pl.col("status") == "completed")
        .join(customers.select("customer_id", "country", "region"), on="customer_id", how="left")
        .group_by(
            "country",
            "region",
            pl.col("order_ts").dt.truncate("1mo").dt.date().alias("month"),
        )
        .agg(
            (pl.col("quantity") * pl.col("unit_price") * (1 - pl.col("discount").fill_null(0)))
            .sum()
            .round(2)
            .alias("revenue"),
            pl.len().cast(pl.UInt32).alias("orders"),
            pl.col("customer_id").n_unique().cast(pl.UInt32).alias("customers"),
        )
        .sort("country", "region", "month", nulls_last=True)
    )
    csv = pl.read_csv(
        settings.reports_dir / "pipelines" / "revenue_by_region_month.csv",
        schema_overrides={"month": pl.Date, "orders": pl.UInt32, "customers": pl.UInt32},
    )
    # Sums rounded to cents may differ by one cent: the pipeline adds in another order, and a
    # sum within 1e-12 of a half cent rounds either way. A cent in float is 0.0100000000000051.
    assert_frame_equal(csv, want, check_dtypes=False, abs_tol=CENT)

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT country, region, month, revenue, orders, customers "
            "FROM analytics.revenue_by_region_month ORDER BY country, region NULLS LAST, month"
        ).fetchall()
        conn.execute("DROP SCHEMA analytics CASCADE")
    pg = pl.DataFrame(rows, schema=want.columns, orient="row")
    assert_frame_equal(pg, want, check_dtypes=False, abs_tol=CENT)


def test_a_failed_blocking_check_holds_back_the_destinations(example_root: Path):
    spec = example_root / "datasets" / "revenue_by_region_month.yaml"
    text = spec.read_text().replace(
        "{row_count: {min: 1, max: 100000}}", "{row_count: {min: 1, max: 2}}"
    )
    spec.write_text(
        text.replace("    - {format: postgres, table: analytics.revenue_by_region_month}\n", "")
    )
    settings = _settings(example_root, None)
    result = materialize(
        settings,
        upstream_of("revenue_by_region_month"),
    )
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["revenue_by_region_month_row_count"].passed
    assert not (settings.reports_dir / "pipelines" / "revenue_by_region_month.csv").exists()
    mats = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    held = mats["revenue_by_region_month"]["destinations_held_back_by"].value
    assert held == ["revenue_by_region_month_row_count"]


def test_every_file_destination_and_duckdb_hold_the_lake_result(example_root: Path):
    spec = example_root / "datasets" / "revenue_by_region_month.yaml"
    spec.write_text(
        spec.read_text().replace(
            "    - {format: postgres, table: analytics.revenue_by_region_month}\n",
            "    - {format: parquet}\n    - {format: json}\n    - {format: xml}\n"
            "    - {format: duckdb, table: marts.revenue}\n",
        )
    )
    settings = _settings(example_root, None)
    result = materialize(
        settings,
        upstream_of("revenue_by_region_month"),
    )
    assert result.success
    lake = pl.read_parquet(
        settings.data_dir / "lake" / "pipelines" / "revenue_by_region_month" / "*.parquet"
    )
    out = settings.reports_dir / "pipelines"
    assert_frame_equal(pl.read_parquet(out / "revenue_by_region_month.parquet"), lake)
    as_json = pl.read_json(out / "revenue_by_region_month.json")
    assert as_json.height == lake.height
    assert as_json["revenue"].sum() == pytest.approx(lake["revenue"].sum())
    xml = (out / "revenue_by_region_month.xml").read_text()
    assert xml.count("<revenue>") == lake.height
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        table = con.sql("SELECT * FROM marts.revenue").pl()
        kinds = con.execute(
            "SELECT table_type FROM information_schema.tables WHERE table_schema = 'marts'"
        ).fetchall()
    assert kinds == [("BASE TABLE",)]
    assert_frame_equal(table, lake, check_dtypes=False)


def test_a_postgres_destination_without_a_database_is_refused_at_load(example_root: Path):
    with pytest.raises(SpecError) as err:
        build_definitions(_settings(example_root, None))
    spec = example_root / "datasets" / "revenue_by_region_month.yaml"
    assert str(err.value) == (
        f"{spec}: field 'pipeline.destinations.1': a postgres destination needs PIPELINE_PG_URL "
        "(the connection URL) in the environment"
    )
