"""The churn feature tables the assets publish, their summary, and the fitted preprocessing."""

from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.features.blueprints import churn_features, price_features, roc_auc
from assets.features.churn import (
    CATEGORICAL_FEATURES,
    NUMERIC_FEATURES,
    churn_cutoff,
    churn_summary,
    labelled_churn,
    price_table,
    snapshot_cutoffs,
    unlabelled_churn,
)
from assets.features.preprocessing import (
    PreprocessingOptions,
    fit_preprocessor,
    numeric_choices,
)


def _churn_inputs(customers: int = 60, seed: int = 1) -> dict[str, pl.LazyFrame]:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-01-01T00:00:00", "us")

    def activity(n: int, ts: str, **extra) -> pl.LazyFrame:
        return pl.LazyFrame(
            {
                "customer_id": [f"C{i:03d}" for i in rng.integers(0, customers, n)],
                ts: start + rng.integers(0, 200 * 86_400, n).astype("timedelta64[s]"),
                **extra,
            }
        )

    return {
        "customers": pl.LazyFrame(
            {
                "customer_id": [f"C{i:03d}" for i in range(customers)],
                "plan_type": rng.choice(["free", "basic", "pro"], customers).tolist(),
                "account_created_date": [
                    date(2024, 1, 1) + timedelta(days=int(d))
                    for d in rng.integers(0, 60, customers)
                ],
            }
        ),
        "orders": activity(400, "order_ts", revenue=rng.uniform(5, 80, 400).round(2)),
        "support_tickets": activity(80, "opened_ts"),
        "usage_events": activity(500, "event_ts"),
    }


def test_the_cutoff_is_the_one_asked_for_else_one_horizon_before_the_latest_day():
    assert churn_cutoff(date(2024, 6, 30), 60, None) == date(2024, 5, 1)
    assert churn_cutoff(date(2024, 6, 30), 60, "2024-04-15") == date(2024, 4, 15)
    assert snapshot_cutoffs(date(2024, 5, 1), 60) == {
        "train": date(2024, 3, 2),
        "holdout": date(2024, 5, 1),
    }


def test_labelled_snapshots_are_the_blueprint_at_each_cutoff(tmp_path: Path):
    frames = _churn_inputs()
    snapshots = {"train": date(2024, 4, 1), "holdout": date(2024, 5, 15)}
    table = labelled_churn(frames, snapshots, 45, tmp_path).collect()
    assert table["snapshot"].unique(maintain_order=True).to_list() == ["train", "holdout"]
    for name, cutoff in snapshots.items():
        whole = churn_features(*frames.values(), cutoff=cutoff, horizon_days=45).collect()
        snapshot = table.filter(pl.col("snapshot") == name).drop("snapshot")
        assert_frame_equal(snapshot, whole)
        assert whole["churned"].any() and not whole["churned"].all()


def test_the_scoring_set_is_the_unlabelled_blueprint(tmp_path: Path):
    frames = _churn_inputs(seed=2)
    cutoff = date(2024, 7, 1)
    whole = churn_features(*frames.values(), cutoff=cutoff, horizon_days=None).collect()
    assert_frame_equal(unlabelled_churn(frames, cutoff, tmp_path).collect(), whole)
    assert "churned" not in whole.columns and whole.height == 60


def test_churn_summary_reads_the_holdout_snapshot_only():
    features = pl.LazyFrame(
        {
            "snapshot": ["train", "holdout", "holdout", "holdout", "holdout"],
            "churned": [True, True, False, True, False],
            "engagement_score": [0.9, 0.1, 0.8, 0.3, 0.2],
            "days_since_last_activity": [-5.0, 40.0, 0.0, 12.0, 3.0],
        }
    )
    summary = churn_summary(features)
    holdout = features.filter(pl.col("snapshot") == "holdout").collect()
    assert summary.churn_rate == 0.5
    assert summary.engagement_auc == roc_auc(1 - holdout["engagement_score"], holdout["churned"])
    assert summary.engagement_auc == 0.75
    assert summary.min_days_since_last_activity == 0.0 and summary.no_future_data
    future = features.with_columns(pl.col("days_since_last_activity") - 1)
    assert not churn_summary(future).no_future_data


def test_the_price_table_is_the_price_blueprint(tmp_path: Path):
    rng = np.random.default_rng(4)
    n = 400
    sales = pl.LazyFrame(
        {
            "product_id": [f"P{i}" for i in rng.integers(0, 12, n)],
            "category": ["home"] * n,
            "date": [datetime(2024, 1, 1) + timedelta(days=int(d)) for d in rng.integers(0, 90, n)],
            "quantity": rng.integers(1, 9, n),
            "avg_price": rng.uniform(5, 20, n).round(2),
        }
    ).with_columns(
        pl.col("date").dt.date(), (pl.col("quantity") * pl.col("avg_price")).alias("revenue")
    )
    sales = sales.unique(["product_id", "date"], keep="first", maintain_order=True)
    assert_frame_equal(price_table(sales, tmp_path).collect(), price_features(sales).collect())


@pytest.mark.parametrize("strategy", ["auto", "drop"])
def test_the_fitted_preprocessor_records_its_choices_and_outputs(strategy):
    rng = np.random.default_rng(6)
    n = 200
    train = pl.DataFrame(
        {
            **{f: rng.exponential(3, n) for f in NUMERIC_FEATURES},
            "plan_type": rng.choice(["free", "pro"], n).tolist(),
            "churned": rng.random(n) < 0.3,
        }
    ).with_columns(
        pl.when(pl.int_range(pl.len()) >= 10)
        .then(pl.col(NUMERIC_FEATURES[0]))
        .alias(NUMERIC_FEATURES[0])
    )
    options = PreprocessingOptions(missing_value_strategy=strategy)
    fitted = fit_preprocessor(train, NUMERIC_FEATURES, CATEGORICAL_FEATURES, "churned", options)
    assert fitted.fit_rows == (190 if strategy == "drop" else 200)
    assert fitted.output_features == [*NUMERIC_FEATURES, "plan_type_free", "plan_type_pro"]
    out = fitted.pipeline.transform(train.select(*NUMERIC_FEATURES, "plan_type").to_pandas())
    assert out.shape == (200, len(NUMERIC_FEATURES) + 2) and not np.isnan(out).any()
    choices = numeric_choices(fitted.choices)
    assert choices["column"].to_list() == NUMERIC_FEATURES
    assert set(choices.columns) == {"column", "impute", "skew", "outliers", "scaling"}
    assert (choices["impute"] == "median").all()  # exponential columns are skewed
