"""A user dataset feeds a blueprint through a column mapping, in real runs."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.core.spec import SpecError
from assets.features.blueprints import revenue_features
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from tests.runs import datasets_of, materialize, upstream_of

SALES_SPEC = """\
name: daily_sales
columns:
  - {name: day, type: date, required: true, unique: true}
  - {name: amount, type: float, required: true, min: 0}
  - {name: n_orders, type: integer, required: true, min: 0}
key: [day]
blueprints:
  - blueprint: revenue
    mapping: {date: day, revenue: amount, orders: n_orders}
"""


def _daily(days: int = 200) -> pl.DataFrame:
    rng = np.random.default_rng(5)
    start = date(2024, 1, 1)
    return pl.DataFrame(
        {
            "day": [start + timedelta(days=i) for i in range(days)],
            "amount": np.round(1000 + 200 * rng.standard_normal(days).cumsum() ** 2 / 50, 2),
            "n_orders": rng.integers(5, 60, days),
        }
    )


def _setup(tmp_path: Path, spec_text: str) -> tuple[Settings, pl.DataFrame]:
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "daily_sales.yaml").write_text(spec_text)
    settings = Settings.from_env(
        {"PIPELINE_DATA_DIR": str(tmp_path / "data"), "PIPELINE_DATASETS_DIR": str(datasets)}
    )
    landing = settings.data_dir / "landing" / "daily_sales"
    landing.mkdir(parents=True)
    frame = _daily()
    frame.write_csv(landing / "sales.csv")
    return settings, frame


def _run(settings: Settings, asset: str):
    return materialize(settings, datasets_of("daily_sales") | dg.AssetSelection.assets(asset))


def test_revenue_through_a_mapping_equals_the_native_names(tmp_path: Path):
    settings, frame = _setup(tmp_path, SALES_SPEC)
    result = _run(settings, "revenue_features_daily_sales")
    assert result.success
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["revenue_features_daily_sales_blueprint_compatible"].passed
    got = pl.read_parquet(
        settings.data_dir / "lake/features/revenue_features_daily_sales/*.parquet"
    ).sort("date")
    native = frame.rename({"day": "date", "amount": "revenue", "n_orders": "orders"})
    want = revenue_features(native.lazy()).collect().sort("date")
    assert_frame_equal(got.select(want.columns), want, check_dtypes=False)


def test_an_unmapped_field_fails_the_asset_naming_it(tmp_path: Path):
    settings, _ = _setup(tmp_path, SALES_SPEC.replace(", orders: n_orders", ""))
    result = _run(settings, "revenue_features_daily_sales")
    assert not result.success
    failure = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).step_failure_data.user_failure_data
    assert failure is not None
    assert failure.description == (
        "blueprint 'revenue': field(s) orders of input 'daily_revenue' are unmapped; map them in "
        "daily_sales's spec under blueprints.0.mapping (field: column)"
    )


def test_a_too_sparse_mapped_field_fails_the_compatibility_check(tmp_path: Path):
    settings, frame = _setup(
        tmp_path,
        SALES_SPEC.replace(
            "{name: n_orders, type: integer, required: true, min: 0}",
            "{name: n_orders, type: integer, min: 0}",
        ),
    )
    sparse = frame.with_columns(
        pl.when(pl.int_range(pl.len()) % 2 == 0)
        .then(None)
        .otherwise(pl.col("n_orders"))
        .alias("n_orders")
    )
    sparse.write_csv(settings.data_dir / "landing" / "daily_sales" / "sales.csv")
    result = _run(settings, "revenue_features_daily_sales")
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}[
        "revenue_features_daily_sales_blueprint_compatible"
    ]
    assert not check.passed
    assert check.metadata["too_sparse"].value == ["daily_revenue.orders (50.0%)"]


def test_a_mapping_to_a_missing_column_is_refused_at_load(tmp_path: Path):
    with pytest.raises(
        SpecError,
        match=r"field 'blueprints\.0\.mapping\.revenue': unknown column 'amout'; "
        r"did you mean 'amount'\?",
    ):
        _setup(tmp_path, SALES_SPEC.replace("revenue: amount", "revenue: amout"))
        build_definitions(
            Settings.from_env(
                {
                    "PIPELINE_DATA_DIR": str(tmp_path / "data"),
                    "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
                }
            )
        )


ACCOUNTS_SPEC = """\
name: crm_accounts
columns:
  - {name: cust_no, type: string, required: true, unique: true}
  - {name: tier, type: string, required: true, allowed: [free, basic, pro, enterprise]}
  - {name: opened, type: date, required: true}
key: [cust_no]
blueprints:
  - blueprint: churn
    input: customers
    mapping: {customer_id: cust_no, plan_type: tier, account_created_date: opened}
"""


@pytest.mark.e2e
def test_churn_through_a_mapped_customers_table_equals_the_builtin_features(tmp_path: Path):
    from assets.generator import GeneratorConfig, generate_dataset

    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "crm_accounts.yaml").write_text(ACCOUNTS_SPEC)
    settings = Settings.from_env(
        {"PIPELINE_DATA_DIR": str(tmp_path / "data"), "PIPELINE_DATASETS_DIR": str(datasets)}
    )
    landing = settings.data_dir / "landing"
    generate_dataset(
        landing, GeneratorConfig(customers=300, orders=3000, fmt="csv", defect_rates={})
    )
    customers = pl.read_csv(next((landing / "customers").glob("*.csv")), infer_schema=False)
    (landing / "crm_accounts").mkdir()
    customers.select(
        pl.col("customer_id").alias("cust_no"),
        pl.col("plan_type").alias("tier"),
        pl.col("account_created_date").alias("opened"),
    ).write_csv(landing / "crm_accounts" / "accounts.csv")
    result = materialize(
        settings, upstream_of("churn_features_crm_accounts", "churn_features_current")
    )
    assert result.success
    lake = settings.data_dir / "lake" / "features"
    mapped = pl.read_parquet(lake / "churn_features_crm_accounts/*.parquet").sort("customer_id")
    native = pl.read_parquet(lake / "churn_features_current/*.parquet").sort("customer_id")
    assert mapped.height == native.height > 0
    assert_frame_equal(mapped.select(native.columns), native)


@pytest.mark.parametrize(
    ("input_name", "replaced"),
    [("customers", "validated_customers"), ("orders", "enriched_orders")],
)
def test_a_churn_feed_declares_its_dataset_and_the_builtin_tables_of_the_other_inputs(
    tmp_path: Path, input_name: str, replaced: str
):
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    spec = ACCOUNTS_SPEC.replace("input: customers", f"input: {input_name}")
    (datasets / "crm_accounts.yaml").write_text(spec)
    settings = Settings.from_env(
        {"PIPELINE_DATA_DIR": str(tmp_path / "data"), "PIPELINE_DATASETS_DIR": str(datasets)}
    )
    defs = build_definitions(settings)
    feed = defs.resolve_assets_def("churn_features_crm_accounts")
    builtin = {
        "validated_customers",
        "enriched_orders",
        "validated_support_tickets",
        "validated_usage_events",
    }
    assert {k.to_user_string() for k in feed.dependency_keys} == {
        "validated_crm_accounts",
        *(builtin - {replaced}),
    }
