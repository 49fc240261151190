"""Validation assets in real in-process runs: gates, policies, history, quarantine, DuckDB.

Each test materializes only what its gate needs: the datasets' raw and validated assets, plus a
stand-in consumer where a test is about what runs downstream."""

import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.defects import DEFECT_KINDS
from assets.validation.history import history_rows
from pipeline_defs.settings import Settings
from tests.runs import datasets_of, materialize, upstream_of

DATASETS = ("customers", "orders", "products", "support_tickets", "usage_events")


@dg.asset(deps=["validated_orders"], group_name="test")
def orders_consumer() -> dg.MaterializeResult:
    """Stands in for the next stage: it must not run after a failed blocking gate."""
    return dg.MaterializeResult(metadata={"ran": True})


def _run(settings, run_config=None, selection=None):
    """validated_orders with what it reads (``selection``: instead) and the stand-in consumer."""
    return materialize(
        settings,
        selection or upstream_of("validated_orders") | dg.AssetSelection.assets(orders_consumer),
        run_config=run_config,
        extra=[orders_consumer],
    )


def _land(settings, **rates):
    generate_dataset(
        settings.data_dir / "landing",
        GeneratorConfig(customers=400, orders=4000, fmt="csv", defect_rates=rates),
    )


def _checks(result):
    return {c.check_name: c for c in result.get_asset_check_evaluations()}


def _materialized(result):
    return {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }


@dataclass(frozen=True)
class CleanRun:
    """Every dataset landed without defects, then ingested and validated once."""

    data_dir: Path
    result: dg.ExecuteInProcessResult


# One worker for the module: its module fixture builds a lake every worker would build again.
pytestmark = pytest.mark.xdist_group("validation_assets")


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> CleanRun:
    """Shared by the tests that only read the clean run or copy its lake before changing it."""
    root = tmp_path_factory.mktemp("clean")
    settings = Settings.from_env(
        {"PIPELINE_DATA_DIR": str(root / "data"), "PIPELINE_DATASETS_DIR": str(root / "datasets")}
    )
    _land(settings)
    return CleanRun(settings.data_dir, _run(settings, selection=datasets_of(*DATASETS)))


def test_failed_gate_blocks_downstream_under_block_policy(settings):
    _land(settings, null_required=0.1)
    result = _run(settings)
    checks = _checks(result)
    gate = checks["orders_validity_at_least_threshold"]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.ERROR
    assert gate.metadata["value"].value < 0.98 and gate.metadata["threshold"].value == 0.98
    assert len(gate.metadata["failing_rows_sample"].value) == 10
    mats = _materialized(result)
    meta = mats["validated_orders"]
    checked = meta["rows_valid"].value + meta["rows_quarantined"].value
    # The failing rows are the rows the measured share leaves out, each counted once.
    assert gate.metadata["failing_rows"].value == round(
        (1 - gate.metadata["value"].value) * checked
    )
    assert checks["orders_keys_unique"].metadata["failing_rows"].value == 0
    assert "validated_orders" in mats and "orders_consumer" not in mats
    assert mats["validated_orders"]["policy"].value == "block"


def test_warn_policy_records_and_continues(settings):
    _land(settings, null_required=0.1)
    config = {"ops": {"validate_orders": {"config": {"policy": "warn"}}}}
    result = _run(settings, run_config=config)
    gate = _checks(result)["orders_validity_at_least_threshold"]
    assert not gate.passed and gate.severity == dg.AssetCheckSeverity.WARN
    mats = _materialized(result)
    assert mats["orders_consumer"]["ran"].value is True
    assert mats["validated_orders"]["policy"].value == "warn"


def test_auto_fix_imputes_and_counts_every_fix(settings):
    _land(settings, null_required=0.1, outlier=0.01)
    config = {"ops": {"validate_orders": {"config": {"policy": "auto_fix"}}}}
    result = _run(settings, run_config=config)
    meta = _materialized(result)["validated_orders"]
    fixes = meta["fixes"].value
    # quantity and channel are imputed (order_ts is a time and never made up); outliers capped.
    assert fixes["imputed:quantity"] > 0 and fixes["imputed:channel"] > 0
    assert fixes["capped:quantity"] == 40
    assert "imputed:order_ts" not in fixes
    # The outlier check shows the fences the 40 were judged by.
    outliers = _checks(result)["orders_no_outliers"].metadata
    fence = outliers["fences"].value["quantity"]
    assert fence["high"] == pytest.approx(fence["q3"] + 3.0 * (fence["q3"] - fence["q1"]))
    assert outliers["outliers"].value == 40 and outliers["method"].value == "iqr"
    # Only the missing order timestamps (a third of the 10%) still fail; nothing else does.
    validity = _checks(result)["orders_validity_at_least_threshold"].metadata["value"].value
    assert 0.95 < validity < 0.98
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        rules = {
            r[0]
            for r in con.execute(
                "SELECT DISTINCT unnest(_rules) FROM validation.quarantined_orders"
            ).fetchall()
        }
    assert (
        "required:order_ts" in rules
        and "required:quantity" not in rules
        and "required:channel" not in rules
    )


def test_quarantine_keeps_rows_rules_and_reasons_and_nothing_is_lost(settings):
    _land(settings, **dict.fromkeys(DEFECT_KINDS, 0.01))
    result = _run(settings, selection=datasets_of(*DATASETS))
    # 1% duplicate keys fail the uniqueness gates, so the run fails and the validated rows are
    # held back, not published; the data is still all there.
    assert not result.success
    meta = _materialized(result)["validated_orders"]
    assert meta["published_version"].value is None
    valid = meta["rows_valid"].value
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert not con.execute(
            "SELECT count(*) FROM duckdb_views() WHERE view_name = 'validated_orders'"
        ).fetchone()[0]
        raw = con.execute("SELECT count(*) FROM ingestion.raw_orders").fetchone()[0]
        bad = con.execute("SELECT count(*) FROM validation.quarantined_orders").fetchone()[0]
        reasons = con.execute(
            "SELECT _rules, _reason FROM validation.quarantined_orders "
            "WHERE list_string_agg(_rules) LIKE 'type:%' LIMIT 1"
        ).fetchone()
        history = con.execute(
            "SELECT count(DISTINCT dataset) FROM validation.quality_history"
        ).fetchone()[0]
    dups = meta["exact_duplicates_removed"].value
    assert raw == valid + bad + dups
    assert reasons == (["type:quantity"], "quantity is not a valid integer: '#VALUE!'")
    assert history == 5


def test_clean_data_passes_every_gate_and_warning_with_zero_false_positives(clean_run):
    result = clean_run.result
    assert result.success
    checks = _checks(result)
    # Every check of every dataset ran (a check left out of the run would pass here unseen).
    assert {c.asset_key.to_user_string() for c in checks.values()} == {
        f"validated_{n}" for n in DATASETS
    } | {f"raw_{n}" for n in DATASETS}
    failed = [name for name, c in checks.items() if not c.passed]
    assert failed == []
    assert all(
        m["rows_quarantined"].value == 0
        for k, m in _materialized(result).items()
        if k.startswith("validated_")
    )


def test_history_check_flags_a_metric_far_from_its_median(settings):
    # Six earlier runs with validity near 1.0, then a run with 10% of rows missing a field.
    history_dir = settings.data_dir / "lake" / "validation" / "quality_history"
    history_dir.mkdir(parents=True)
    for i in range(6):
        history_rows(
            f"old{i}",
            "orders",
            {"validity": 0.999 - i * 0.0005, "rows_in": 4000.0 + i},
            datetime.now(UTC),
        ).write_parquet(history_dir / f"part-orders-old{i}.parquet")
    _land(settings, null_required=0.1)
    checks = _checks(
        _run(settings, run_config={"ops": {"validate_orders": {"config": {"policy": "warn"}}}})
    )
    stable = checks["orders_quality_metrics_stable"]
    assert not stable.passed and stable.severity == dg.AssetCheckSeverity.WARN
    assert [a["metric"] for a in stable.metadata["anomalies"].value] == ["validity"]
    assert stable.metadata["threshold_robust_z"].value == 3.5
    assert checks["orders_row_count_within_history"].passed
    assert checks["orders_row_count_within_history"].metadata["threshold_robust_z"].value == 3.5


def test_schema_drift_warns_when_a_column_appears(settings, clean_run):
    # The clean run recorded each dataset's schema; a late file then brings a new column.
    shutil.copytree(clean_run.data_dir, settings.data_dir)
    extra = settings.data_dir / "landing" / "orders" / "late.csv"
    extra.write_text(
        "order_id,customer_id,product_id,quantity,unit_price,order_ts,channel,status,coupon\n"
        "O9,C00000001,P000001,1,1.0,2025-01-01T00:00:00,web,completed,SAVE10\n"
    )
    drift = _checks(_run(settings))["orders_schema_unchanged"]
    assert drift.metadata["first_run"].value is False
    assert not drift.passed and drift.metadata["drift"].value["added"] == ["coupon"]


@pytest.mark.e2e
@pytest.mark.parametrize("rate", [0.0, 0.005, 0.03])
def test_precision_and_recall_per_defect_kind_against_ground_truth(tmp_path, rate):
    from benchmarks.validation_accuracy import accuracy

    cfg = GeneratorConfig(
        customers=3000, orders=30_000, fmt="csv", defect_rates=dict.fromkeys(DEFECT_KINDS, rate)
    )
    table = accuracy(tmp_path, cfg)
    if rate == 0:
        assert table.height == 0  # nothing planted, nothing flagged
        return
    assert set(table["kind"]) == set(DEFECT_KINDS)
    weak = table.filter((table["precision"] < 0.99) | (table["recall"] < 0.99))
    assert weak.height == 0, weak
