"""Analytics wiring: churn model and scores, segments, forecast, elasticity, anomalies."""

import math
import time
from datetime import date, timedelta
from typing import cast

import dagster as dg
import polars as pl

from assets.analytics.elasticity import ELASTICITY_INPUTS, elasticities, elasticity_table
from assets.analytics.forecast import (
    backtest_mape,
    fit_seasonal,
    forecast,
    residual_anomalies,
    write_backtest,
)
from assets.common.artifacts import load_artifact, save_artifact
from assets.common.inputs import Reads, Table
from assets.common.metadata import markdown_preview
from assets.common.publish import publish_table
from assets.core.frames import fit_sample
from assets.features.churn import FEATURE_COLUMNS, PREPROCESSOR, load_preprocessor
from resources import LakeResource, WarehouseResource

# scikit-learn (with SciPy and pandas) is imported inside the steps that fit or score models:
# at module level it added ~4 s to every process that loads the code location (webserver,
# daemon, each run and each multiprocess step) for the few steps that use it.

GROUP = "analytics"
FEATURES = "features"
ENRICHMENT = "enrichment"
KINDS = {"sklearn", "polars", "duckdb"}
OWNER = ["team:data-science"]
MODEL = "churn_model"
COLUMNS = FEATURE_COLUMNS
# The churn model is trained, and judged, on at most about this many customers of each snapshot
# (a fixed sample by customer id beyond that, as the preprocessor's fit): as pandas inputs,
# 2.3M customers a snapshot took the step to 2.0 GB at `xl`, against 0.8 GB at `large`, whose
# ~500k customers are all used.
MODEL_ROWS = 500_000
SCORE_BATCH_ROWS = 500_000


def _rounded(frame: pl.DataFrame, digits: int = 3) -> pl.DataFrame:
    return frame.with_columns(pl.col(pl.Float64).round(digits))


def load_churn_model(lake: LakeResource):
    return load_artifact(lake.table_dir(GROUP, MODEL))


CHURN_FEATURES = Table(FEATURES, "churn_features")
DAILY_REVENUE = Table(ENRICHMENT, "daily_revenue")
PRICE_FEATURES = Table(FEATURES, "price_features")
CUSTOMER_PROFILES = Table(ENRICHMENT, "customer_profiles")
# The fitted artifacts are read from their folders, declared like tables.
MODEL_READS = Reads(CHURN_FEATURES, Table(FEATURES, PREPROCESSOR))
SCORES_READS = Reads(Table(FEATURES, "churn_features_current"), Table(GROUP, MODEL))
SEGMENTS_READS = Reads(CUSTOMER_PROFILES)
FORECAST_READS = Reads(DAILY_REVENUE)
ELASTICITY_READS = Reads(PRICE_FEATURES)
ANOMALIES_READS = Reads(DAILY_REVENUE, PRICE_FEATURES, CUSTOMER_PROFILES)


@dg.asset(
    name=MODEL,
    group_name=GROUP,
    deps=MODEL_READS.deps,
    kinds={"sklearn", "python"},
    owners=OWNER,
    description="Gradient-boosted churn classifier through the saved preprocessing, trained on the "
    "earlier snapshot and judged on the later one (at most ~"
    f"{MODEL_ROWS:,} customers of each, a fixed sample by customer id beyond that); saved as a "
    "versioned artifact.",
)
def churn_model_asset(
    context: dg.AssetExecutionContext, lake: LakeResource
) -> dg.MaterializeResult:
    """The churn classifier trained on the train snapshot, judged on the holdout, saved."""
    from assets.analytics.models import train_churn_model

    started = time.perf_counter()
    scan = MODEL_READS.scan(lake, "churn_features").select(
        "customer_id", "snapshot", "churned", *COLUMNS
    )
    train, train_rows = fit_sample(scan.filter(pl.col("snapshot") == "train"), MODEL_ROWS)
    holdout, holdout_rows = fit_sample(scan.filter(pl.col("snapshot") == "holdout"), MODEL_ROWS)
    preprocessor, pre_record = load_preprocessor(lake)
    result = train_churn_model(pl.concat([train, holdout]), preprocessor, COLUMNS)
    version, artifact = save_artifact(
        lake.table_dir(GROUP, MODEL),
        MODEL,
        result.model,
        {
            "threshold": result.threshold,
            "metrics": result.metrics,
            "preprocessor": pre_record["version"],
            "columns": COLUMNS,
        },
    )
    m = result.metrics
    context.log.info(
        f"Churn model {version}: holdout ROC AUC {m['roc_auc']:.3f}, PR AUC {m['pr_auc']:.3f}."
    )
    importances = pl.DataFrame(result.importances)
    return dg.MaterializeResult(
        metadata={
            "version": version,
            "artifact": dg.MetadataValue.path(str(artifact)),
            "roc_auc": dg.MetadataValue.float(round(m["roc_auc"], 4)),
            "pr_auc": dg.MetadataValue.float(round(m["pr_auc"], 4)),
            "precision_at_threshold": dg.MetadataValue.float(round(m["precision_at_threshold"], 4)),
            "recall_at_threshold": dg.MetadataValue.float(round(m["recall_at_threshold"], 4)),
            "threshold": dg.MetadataValue.float(round(result.threshold, 4)),
            "brier_score": dg.MetadataValue.float(round(m["brier_score"], 4)),
            "calibration": dg.MetadataValue.md(
                markdown_preview(_rounded(pl.DataFrame(result.calibration)))
            ),
            "top_features": dg.MetadataValue.md(markdown_preview(importances.head(10))),
            "importances": dg.MetadataValue.json(result.importances),
            "rows_in": dg.MetadataValue.int(train_rows + holdout_rows),
            "fit_rows": dg.MetadataValue.int(train.height),
            "holdout_rows": dg.MetadataValue.int(holdout.height),
            "duration_s": dg.MetadataValue.float(round(time.perf_counter() - started, 3)),
        }
    )


@dg.asset(
    name="churn_scores",
    group_name=GROUP,
    deps=SCORES_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Churn probability and risk band (high >= 0.6, medium >= 0.3, else low) for every "
    "current customer, from the latest churn model.",
)
def churn_scores_asset(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Churn probability and risk band for every current customer, from the latest model."""
    from assets.analytics.models import score_customers

    started = time.perf_counter()
    current = SCORES_READS.scan(lake, "churn_features_current").select(
        "customer_id", "cutoff_date", *COLUMNS
    )
    rows = int(current.select(pl.len()).collect().item())
    model, pointer = load_churn_model(lake)
    # Scored SCORE_BATCH_ROWS customers at a time: the model's inputs (as pandas) of 2.5M
    # customers at once took the step to 1.5 GB at `xl`; each batch's scores are three columns.
    scores = pl.concat(
        [
            score_customers(current.slice(start, SCORE_BATCH_ROWS).collect(), model, COLUMNS)
            for start in range(0, max(rows, 1), SCORE_BATCH_ROWS)
        ]
    ).with_columns(pl.lit(pointer["version"]).alias("model_version"))
    meta = publish_table(
        lake, warehouse, GROUP, "churn_scores", scores, rows_in=rows, started=started
    )
    bands = scores.group_by("risk_band").len().sort("risk_band")
    meta["risk_bands"] = dg.MetadataValue.json(dict(bands.iter_rows()))
    meta["model_version"] = pointer["version"]
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="customer_segments",
    group_name=GROUP,
    deps=SEGMENTS_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="KMeans segments on log-scaled recency, frequency, value and product usage, with k "
    "(3 to 6) chosen by silhouette and each segment described in plain words; fitted on at most ~"
    f"{MODEL_ROWS:,} customers (a fixed sample by customer id) and every customer assigned to "
    "its nearest centre.",
)
def customer_segments_asset(
    lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Customers in KMeans segments, k chosen by silhouette, each segment described."""
    from assets.analytics.models import SEGMENT_INPUTS, segment_customers

    started = time.perf_counter()
    profiles = SEGMENTS_READS.scan(lake, "customer_profiles").select(*SEGMENT_INPUTS)
    segments, info = segment_customers(profiles, fit_rows=MODEL_ROWS, batch_rows=SCORE_BATCH_ROWS)
    meta = publish_table(
        lake,
        warehouse,
        GROUP,
        "customer_segments",
        segments,
        rows_in=segments.height,
        started=started,
    )
    sizes = dict(segments.group_by("segment").len().iter_rows())
    centroids = pl.DataFrame(
        [{**c, "customers": sizes.get(c["segment"], 0)} for c in info["centroids"]]
    )
    meta.update(
        {
            "k": info["k"],
            "fit_rows": info["fit_rows"],
            "silhouette_by_k": dg.MetadataValue.json(
                {str(k): round(v, 4) for k, v in info["silhouette"].items()}
            ),
            "segments": dg.MetadataValue.md(markdown_preview(centroids)),
        }
    )
    return dg.MaterializeResult(metadata=meta)


HOLDOUT_DAYS = 60


@dg.asset(
    name="revenue_forecast",
    group_name=GROUP,
    deps=FORECAST_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Daily revenue for the next 90 days (30/60/90-day totals) with 80% and 95% "
    "intervals, from trend + day-of-week + month effects; backtested on the last 60 days.",
)
def revenue_forecast_asset(
    context: dg.AssetExecutionContext, lake: LakeResource, warehouse: WarehouseResource
):
    """Daily revenue forecast for 90 days with intervals, backtested on 60 days."""
    started = time.perf_counter()
    daily = FORECAST_READS.scan(lake, "daily_revenue").collect().sort("date")
    mape, _ = backtest_mape(daily, holdout_days=HOLDOUT_DAYS)
    model = fit_seasonal(daily)
    last_day = cast(date, daily["date"].max())
    frame = forecast(model, last_day + timedelta(days=1), 90)
    meta = publish_table(
        lake, warehouse, GROUP, "revenue_forecast", frame, rows_in=daily.height, started=started
    )
    write_backtest(lake.table_dir(GROUP, "revenue_forecast"), mape, HOLDOUT_DAYS)
    totals = {
        f"next_{h}_days_revenue": round(float(frame.head(h)["forecast"].sum()), 2)
        for h in (30, 60, 90)
    }
    noise_mape = model.sigma * math.sqrt(2 / math.pi)
    meta.update(
        {
            "backtest_mape": dg.MetadataValue.float(round(mape, 4)),
            "residual_sigma_log": dg.MetadataValue.float(round(model.sigma, 4)),
            "noise_floor_mape": dg.MetadataValue.float(round(noise_mape, 4)),
            "days_left_out_of_fit": dg.MetadataValue.json([d.isoformat() for d in model.dropped]),
            **{k: dg.MetadataValue.float(v) for k, v in totals.items()},
        }
    )
    context.log.info(f"Forecast backtest MAPE {mape:.1%} (noise floor {noise_mape:.1%}).")
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="price_elasticity",
    group_name=GROUP,
    deps=ELASTICITY_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Price elasticity per category (with product and week fixed effects) and per "
    "product, with 95% intervals and the revenue-maximising price change within +-20%.",
)
def price_elasticity_asset(
    lake: LakeResource, warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Price elasticity per category and per product, with the best price change."""
    started = time.perf_counter()
    weekly = ELASTICITY_READS.scan(lake, "price_features").select(ELASTICITY_INPUTS)
    by_product, by_category = elasticities(weekly)
    table = elasticity_table(by_product, by_category)
    meta = publish_table(
        lake,
        warehouse,
        GROUP,
        "price_elasticity",
        table,
        rows_in=int(weekly.select(pl.len()).collect().item()),
        started=started,
    )
    meta["by_category"] = dg.MetadataValue.md(markdown_preview(_rounded(by_category)))
    return dg.MaterializeResult(metadata=meta)


@dg.asset(
    name="anomalies",
    group_name=GROUP,
    deps=ANOMALIES_READS.deps,
    kinds=KINDS,
    owners=OWNER,
    description="Anomalous days (robust z of revenue against the seasonal model), product-weeks "
    "(robust z of weekly revenue) and customers (IsolationForest), each with a score and drivers.",
)
def anomalies_asset(lake: LakeResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Anomalous days, product-weeks and customers, each with a score and its drivers."""
    from assets.analytics.anomalies import (
        CUSTOMER_FEATURES,
        PRODUCT_INPUTS,
        anomaly_table,
        customer_anomalies,
        day_anomalies,
        product_anomalies,
    )

    started = time.perf_counter()
    daily = ANOMALIES_READS.scan(lake, "daily_revenue").collect().sort("date")
    days = day_anomalies(residual_anomalies(daily, fit_seasonal(daily)))
    products = product_anomalies(
        ANOMALIES_READS.scan(lake, "price_features").select(PRODUCT_INPUTS)
    )
    customers = customer_anomalies(
        ANOMALIES_READS.scan(lake, "customer_profiles").select(
            "customer_id", "as_of_date", *CUSTOMER_FEATURES
        )
    )
    table = anomaly_table(days, products, customers)
    meta = publish_table(
        lake, warehouse, GROUP, "anomalies", table, rows_in=daily.height, started=started
    )
    meta["by_type"] = dg.MetadataValue.json(dict(table.group_by("entity_type").len().iter_rows()))
    meta["anomalous_days"] = dg.MetadataValue.json(days["entity_id"].to_list())
    return dg.MaterializeResult(metadata=meta)


ANALYTICS_ASSETS = [
    churn_model_asset,
    churn_scores_asset,
    customer_segments_asset,
    revenue_forecast_asset,
    price_elasticity_asset,
    anomalies_asset,
]
