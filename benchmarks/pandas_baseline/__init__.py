"""The pandas baseline: what a team would write without this project, done fairly and idiomatically.

It reads the same landing CSVs with pandas, casts them to the same contracts, validates them with
pandera-on-pandas plus pandas code for keys, foreign keys and cross-field rules, splits valid from
quarantined rows, writes both to Parquet (``validation``), then does the enrichment joins and
aggregates (``enrichment``), the churn, revenue and price features (``features``), and the
analytics with the pipeline's models, settings, sample sizes and thresholds (``analytics``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from assets.core.spec import load_catalog
from benchmarks.laps import Laps
from benchmarks.pandas_baseline.analytics import (
    anomalies,
    churn_model,
    elasticities,
    revenue_forecast,
    segments,
)
from benchmarks.pandas_baseline.enrichment import enrich
from benchmarks.pandas_baseline.features import (
    FEATURES,
    HORIZON_DAYS,
    churn_features,
    price_features,
    revenue_features,
)
from benchmarks.pandas_baseline.validation import ingest, validate_all


def run(data_dir: Path, out_dir: Path) -> tuple[Laps, float]:
    """Every stage the baseline covers; returns their laps and the churn model's holdout AUC."""
    catalog = load_catalog()
    laps = Laps()
    typed = ingest(data_dir / "landing", catalog)
    laps.lap("ingestion")

    laps.start()
    valid = validate_all(typed, catalog, out_dir)
    laps.lap("validation")

    laps.start()
    orders, daily, profiles, product_daily = enrich(valid, out_dir)
    laps.lap("enrichment")

    laps.start()
    last = max(
        orders["order_ts"].max(),
        valid["support_tickets"]["opened_ts"].max(),
        valid["usage_events"]["event_ts"].max(),
    ).normalize()
    holdout_cutoff = last - pd.Timedelta(days=HORIZON_DAYS)
    train_cutoff = holdout_cutoff - pd.Timedelta(days=HORIZON_DAYS)
    inputs = (valid["customers"], orders, valid["support_tickets"], valid["usage_events"])
    churn = pd.concat(
        [
            churn_features(*inputs, train_cutoff, labelled=True).assign(snapshot="train"),
            churn_features(*inputs, holdout_cutoff, labelled=True).assign(snapshot="holdout"),
        ],
        ignore_index=True,
    )
    churn.to_parquet(out_dir / "churn_features.parquet")
    current = churn_features(*inputs, last, labelled=False)
    current.to_parquet(out_dir / "churn_features_current.parquet")
    revenue_features(daily.reset_index()).to_parquet(out_dir / "revenue_features.parquet")
    weekly = price_features(product_daily.reset_index(), valid["products"])
    weekly.to_parquet(out_dir / "price_features.parquet")
    laps.lap("features")

    laps.start()
    model, auc = churn_model(churn)
    scores = current[["customer_id"]].assign(
        churn_probability=model.predict_proba(current[FEATURES])[:, 1]
    )
    scores.to_parquet(out_dir / "churn_scores.parquet")
    segments(profiles, last).to_parquet(out_dir / "customer_segments.parquet")
    days = daily.reset_index().sort_values("day", ignore_index=True)
    revenue_forecast(days).to_parquet(out_dir / "revenue_forecast.parquet")
    by_product, by_category = elasticities(weekly)
    by_product.to_parquet(out_dir / "price_elasticity_products.parquet")
    by_category.to_parquet(out_dir / "price_elasticity_categories.parquet")
    anomalies(days, weekly, profiles, last).to_parquet(out_dir / "anomalies.parquet")
    laps.lap("analytics")
    return laps, auc
