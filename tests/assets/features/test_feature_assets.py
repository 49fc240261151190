"""Enrichment and feature assets in a real in-process run of the whole pipeline."""

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.analytics import defs as analytics_defs
from assets.core.frames import fit_sample
from assets.features.churn import CATEGORICAL_FEATURES, NUMERIC_FEATURES, load_preprocessor
from assets.features.preprocessing import to_pandas_inputs
from pipeline_defs import build_definitions
from resources import LakeResource
from tests.runs import upstream_of


def _full(settings, selection="*", run_config=None):
    d = build_definitions(settings)
    with dg.instance_for_test() as instance:
        return dg.materialize(
            d.assets,
            resources=d.resources,
            instance=instance,
            selection=selection,
            run_config=run_config or {},
            raise_on_error=False,
        )


@pytest.mark.e2e
def test_full_pipeline_builds_enrichment_and_features(settings, monkeypatch):
    result = _full(settings)
    assert result.success
    mats = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    assert mats["churn_features"]["engagement_score_auc"].value > 0.75
    assert (
        mats["churn_preprocessor"]["choices"].value["categorical"]["plan_type"]["encoding"]
        == "onehot"
    )
    failed = [c.check_name for c in result.get_asset_check_evaluations() if not c.passed]
    assert set(failed) <= {
        "orders_no_outliers",
        "usage_events_no_outliers",
    }  # planted sample outliers
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        valid = con.execute("SELECT count(*) FROM validation.validated_orders").fetchone()[0]
        enriched = con.execute(
            "SELECT count(*), count(DISTINCT order_id) FROM enrichment.enriched_orders"
        ).fetchone()
        days = con.execute("SELECT count(*), sum(revenue) FROM enrichment.daily_revenue").fetchone()
        total = con.execute("SELECT sum(revenue) FROM enrichment.enriched_orders").fetchone()[0]
        churn = con.execute("SELECT count(*) FROM features.churn_features").fetchone()[0]
    assert enriched == (valid, valid)  # no order lost or doubled by the joins
    assert abs(days[1] - total) < 1e-6 * total
    assert churn > 0
    # The saved preprocessing scores current customers exactly as analytics will.
    pipeline, pointer = load_preprocessor(LakeResource(root=settings.lake_uri))
    current = pl.read_parquet(
        str(settings.data_dir / "lake" / "features" / "churn_features_current" / "*.parquet")
    )
    out = pipeline.transform(to_pandas_inputs(current, [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]))
    assert (
        out.shape[0] == current.height
        and pointer["version"] == mats["churn_preprocessor"]["version"].value
    )
    # Analytics ran on top, and its headline numbers are on the materializations.
    assert mats["churn_model"]["roc_auc"].value > 0.75
    assert mats["revenue_forecast"]["backtest_mape"].value > 0
    assert sum(mats["churn_scores"]["risk_bands"].value.values()) == current.height
    assert mats["customer_segments"]["k"].value in range(3, 7)
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        forecast_days = con.execute("SELECT count(*) FROM analytics.revenue_forecast").fetchone()[0]
        categories = con.execute(
            "SELECT count(*) FROM analytics.price_elasticity WHERE level = 'category'"
        ).fetchone()[0]
        kinds = {
            r[0]
            for r in con.execute("SELECT DISTINCT entity_type FROM analytics.anomalies").fetchall()
        }
    assert forecast_days == 90 and categories == 8
    assert "day" in kinds and kinds <= {"day", "product", "customer"}
    model = mats["churn_model"]
    assert model["fit_rows"].value + model["holdout_rows"].value == model["rows_in"].value

    # Beyond MODEL_ROWS customers a snapshot, the model is fitted and judged on a fixed sample,
    # so the step's memory stays that of MODEL_ROWS customers whatever the table's size.
    monkeypatch.setattr(analytics_defs, "MODEL_ROWS", 400)
    sampled = _full(settings, selection="churn_model")
    assert sampled.success
    (small,) = [m.materialization.metadata for m in sampled.get_asset_materialization_events()]
    assert small["rows_in"].value == model["rows_in"].value
    assert 0 < small["fit_rows"].value < 600 and 0 < small["holdout_rows"].value < 600
    assert small["roc_auc"].value > 0.6


@pytest.mark.e2e
def test_blueprint_missing_field_fails_with_its_name(settings):
    # Only what churn_features reads, and the generator that fills the landing zone.
    needed = upstream_of("churn_features") | dg.AssetSelection.assets("sample_landing_data")
    assert _full(settings, selection=needed - dg.AssetSelection.assets("churn_features")).success
    table = settings.data_dir / "lake" / "enrichment" / "enriched_orders" / "part-full.parquet"
    pl.read_parquet(table).drop("revenue").write_parquet(table)
    result = _full(settings, selection="churn_features")
    assert not result.success
    errors = [e.event_specific_data.error.message for e in result.all_events if e.is_step_failure]
    assert any("input 'orders' has no column(s) 'revenue'" in m for m in errors), errors


def test_preprocessor_fits_on_a_fixed_sample_of_many_customers():
    train = pl.LazyFrame({"customer_id": [f"C{i:06d}" for i in range(10_000)], "x": range(10_000)})
    sample, total = fit_sample(train, rows=1_000)
    assert total == 10_000 and 700 < sample.height < 1_300
    assert fit_sample(train, rows=1_000)[0].equals(sample)  # the same customers every run
    everything, _ = fit_sample(train, rows=10_000)
    assert everything.height == 10_000
