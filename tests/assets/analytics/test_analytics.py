"""Analytics against planted effects (fixed seed), plus unit checks of the pieces."""

import math
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from sklearn.linear_model import LogisticRegression

from assets.analytics.elasticity import COLUMNS as ELASTICITY_COLUMNS
from assets.analytics.elasticity import best_price_change, elasticities, elasticity_table
from assets.analytics.forecast import backtest_mape, fit_seasonal, forecast, residual_anomalies
from assets.analytics.models import (
    describe_centroid,
    risk_band,
    segment_customers,
    train_churn_model,
)
from assets.enrichment.logic import (
    customer_profiles,
    daily_revenue,
    enriched_orders,
    product_daily_sales,
)
from assets.features.blueprints import churn_features, price_features
from assets.features.churn import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from assets.features.preprocessing import PreprocessingOptions, build_preprocessor
from assets.generator import GeneratorConfig, generate_dataset

COLUMNS = [*NUMERIC_FEATURES, *CATEGORICAL_FEATURES]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    folder: Path = tmp_path_factory.mktemp("analytics")
    manifest = generate_dataset(folder, GeneratorConfig(customers=5000, orders=200_000, seed=7))

    def scan(entity: str) -> pl.LazyFrame:
        return pl.scan_parquet(str(folder / entity / "*.parquet"))

    customers = scan("customers")
    orders = enriched_orders(scan("orders"), scan("products"), customers).collect().lazy()
    last = orders.select(pl.col("order_ts").max()).collect().item().date()
    cutoff = last - timedelta(days=60)
    args = (customers, orders, scan("support_tickets"), scan("usage_events"))
    snapshots = [
        churn_features(*args, cutoff=c, horizon_days=60).with_columns(pl.lit(n).alias("snapshot"))
        for n, c in (("train", cutoff - timedelta(days=60)), ("holdout", cutoff))
    ]
    return {
        "manifest": manifest,
        "features": pl.concat(snapshots).collect(),
        "daily": daily_revenue(orders, customers).collect(),
        "weekly": price_features(product_daily_sales(orders)).collect(),
        "profiles": customer_profiles(*args, as_of=last).collect(),
    }


@pytest.fixture(scope="module")
def churn(world):
    train = world["features"].filter(pl.col("snapshot") == "train")
    pre, _ = build_preprocessor(
        train, NUMERIC_FEATURES, CATEGORICAL_FEATURES, PreprocessingOptions()
    )
    return train_churn_model(world["features"], pre, COLUMNS)


@pytest.mark.e2e
def test_churn_model_holdout_auc(churn):
    assert churn.metrics["roc_auc"] >= 0.80
    assert 0 < churn.threshold < 1 and len(churn.calibration) >= 5


@pytest.mark.e2e
def test_churn_model_ranks_the_activity_features_first(churn):
    # Churn is planted as activity that stops, so the features that see the stop lead the
    # permutation importance on every sample tried (seeds 7, 8 and 9, two samplers).
    top = {i["feature"] for i in churn.importances[:3]}
    assert top == {"days_since_last_activity", "activity_recency_score", "engagement_score"}
    assert all(i["auc_drop"] > 2 * i["std"] for i in churn.importances[:3]), churn.importances


@pytest.mark.e2e
def test_churn_features_carry_every_planted_driver_with_its_sign(world):
    # The planted drivers (usage lowers churn, support tickets raise it, a higher plan lowers
    # it) are read off a logistic regression that holds recency and tenure fixed. The model's
    # own permutation importance is no test of them: at 5,000 customers recency carries most
    # of what they say, and their AUC drops (~0.001) change rank from one sample to the next
    # (seeds 8 and 9 put usage below value_tier). On six samples (seeds 7, 8, 9, two samplers)
    # the coefficients were usage -0.35 to -0.76, support +0.20 to +0.39 and plan -0.15 to
    # -0.42; with the generator's usage and support effects set to zero, usage came out +0.10
    # and support +0.10, which these bounds refuse.
    train = world["features"].filter(pl.col("snapshot") == "train")
    columns = [
        "feature_usage_rate",
        "support_intensity",
        "plan_value_score",
        "days_since_last_activity",
        "account_tenure_days",
    ]
    x = (
        train.select(
            pl.col("feature_usage_rate").log1p(),
            pl.col("support_intensity").log1p(),
            *[pl.col(c) for c in columns[2:]],
        )
        .to_numpy()
        .astype(float)
    )
    x[~np.isfinite(x)] = 0.0
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    coef = dict(
        zip(
            columns,
            LogisticRegression(max_iter=1000).fit(x, train["churned"].to_numpy()).coef_[0],
            strict=True,
        )
    )
    assert coef["feature_usage_rate"] < -0.1, coef
    assert coef["support_intensity"] > 0.15, coef
    assert coef["plan_value_score"] < -0.1, coef


@pytest.mark.e2e
def test_elasticity_sign_and_size_match_the_planted_ones(world):
    planted = world["manifest"]["planted"]["price_elasticity"]
    _, by_category = elasticities(world["weekly"])
    covered = 0
    for row in by_category.iter_rows(named=True):
        truth = planted[row["category"]]
        assert row["elasticity"] < 0, row
        assert abs(row["elasticity"] - truth) < 0.5, (row["category"], truth, row)
        covered += row["ci_low"] <= truth <= row["ci_high"]
    # Eight 95% intervals all cover the truth only about 66% of the time; 7 of 8 is the bar.
    assert covered >= len(by_category) - 1, by_category


@pytest.mark.e2e
def test_forecast_backtest_mape_is_within_the_noise_bound(world):
    mape, _ = backtest_mape(world["daily"], holdout_days=60)
    sigma = fit_seasonal(world["daily"]).sigma
    # A forecast right up to log-normal noise sigma has expected APE ~ sigma * sqrt(2/pi); allow
    # half as much again for trend extrapolation over 60 days.
    assert mape <= 1.5 * sigma * math.sqrt(2 / math.pi), (mape, sigma)


@pytest.mark.e2e
def test_anomaly_detector_finds_the_planted_revenue_anomalies(world):
    planted = {a["date"] for a in world["manifest"]["planted"]["daily_revenue_anomalies"]}
    daily = world["daily"]
    found = {
        d.isoformat() for d in residual_anomalies(daily, fit_seasonal(daily))["date"].to_list()
    }
    assert len(planted & found) / len(planted) >= 0.9
    assert len(found - planted) <= 0.01 * daily.height  # few false alarms


@pytest.mark.e2e
def test_segments_pick_k_by_silhouette_and_describe_themselves(world):
    segments, info = segment_customers(world["profiles"])
    assert info["k"] == max(info["silhouette"], key=info["silhouette"].get)
    assert segments["segment"].n_unique() == info["k"]
    assert all(c["description"] for c in info["centroids"])


@pytest.mark.e2e
def test_segments_fitted_on_a_sample_assign_every_customer_to_the_nearest_centre(world):
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    from assets.analytics.anomalies import log_features
    from assets.analytics.models import SEED, SEGMENT_FEATURES
    from assets.core.frames import fit_sample

    profiles = world["profiles"]
    whole, _ = segment_customers(profiles)
    # A sample as large as the table is the table: the same segments, batches or not.
    same, _ = segment_customers(profiles.lazy(), fit_rows=10**6, batch_rows=1000)
    assert same.equals(whole)

    sampled, info = segment_customers(profiles.lazy(), fit_rows=2000, batch_rows=1500)
    assert 1000 < info["fit_rows"] < profiles.height
    assert sampled["customer_id"].to_list() == profiles["customer_id"].to_list()
    assert sampled.equals(segment_customers(profiles, fit_rows=2000)[0])  # one batch
    # Every customer's segment is the nearest centre of the model fitted on the sample.
    recency = (
        pl.col("as_of_date")
        - pl.col("last_activity_date").fill_null(pl.col("account_created_date"))
    ).dt.total_days()
    frame = profiles.lazy().with_columns(recency.alias("recency_days"))
    fit, _ = fit_sample(frame, 2000)
    cols = list(SEGMENT_FEATURES)
    scaler = StandardScaler().fit(log_features(fit, cols))
    km = KMeans(n_clusters=info["k"], random_state=SEED).fit(
        scaler.transform(log_features(fit, cols))
    )
    everyone = km.predict(scaler.transform(log_features(frame.collect(), cols)))
    assert sampled["segment"].to_list() == everyone.tolist()


def test_centroid_words_read_recency_the_right_way_round():
    z = {
        "recency_days": 1.2,
        "order_count": 0.1,
        "total_value": 1.5,
        "feature_usage_count": 0.0,
        "distinct_features_used": -0.2,
    }
    assert describe_centroid(z) == "high value, low recent activity"


def test_a_centroid_with_no_strong_trait_is_named_by_its_largest_deviations():
    z = {
        "recency_days": 0.28,
        "order_count": -0.33,
        "total_value": -0.16,
        "feature_usage_count": 0.1,
        "distinct_features_used": 0.02,
    }
    assert describe_centroid(z) == "slightly low purchase frequency, slightly low recent activity"
    assert describe_centroid(dict.fromkeys(z, 0.0)) == "average on every trait"


def test_best_price_change_follows_revenue_maths():
    assert best_price_change(-2.0) == (-0.2, pytest.approx(0.8**-1 - 1))
    change, effect = best_price_change(-0.5)
    assert change == 0.2 and effect == pytest.approx(1.2**0.5 - 1)


def test_risk_bands():
    out = pl.DataFrame({"p": [0.1, 0.3, 0.59, 0.6, 0.95]}).select(risk_band(pl.col("p")))
    assert out.to_series().to_list() == ["low", "medium", "medium", "high", "high"]


def test_seasonal_model_recovers_trend_and_weekday_effect_on_a_clean_series():
    days = [date(2024, 1, 1) + timedelta(days=i) for i in range(400)]
    rng = np.random.default_rng(0)
    t = np.arange(400) / 365.25
    weekend = np.array([1.3 if d.weekday() >= 5 else 1.0 for d in days])
    revenue = 1000 * np.exp(0.2 * t) * weekend * np.exp(rng.normal(0, 0.05, 400))
    revenue[200] *= 5  # an outlier the robust refit leaves out
    daily = pl.DataFrame({"date": days, "revenue": revenue})
    model = fit_seasonal(daily)
    assert date(2024, 1, 1) + timedelta(days=200) in model.dropped
    # Same weekday, same month, one year apart: the fitted trend grew by about 0.2 in log terms.
    monday, next_year = date(2024, 1, 8), date(2025, 1, 6)
    rise = np.diff(model.predict_log(pl.Series([monday, next_year])))[0]
    assert rise == pytest.approx(0.2 * 364 / 365.25, abs=0.04)
    f = forecast(model, days[-1] + timedelta(days=1), 30)
    assert (f["lower_95"] < f["forecast"]).all() and (f["forecast"] < f["upper_95"]).all()
    flagged = residual_anomalies(daily, model)["date"].to_list()
    assert days[200] in flagged and len(flagged) <= 2


def _weekly_sales(products: int, seed: int, category=lambda p: "c") -> pl.DataFrame:
    """30 weeks per product with demand at a true elasticity of -1.5."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(products):
        for w in range(30):
            price = 10 * math.exp(rng.normal(0, 0.1))
            rows.append(
                {
                    "product_id": f"P{p}",
                    "category": category(p),
                    "period": date(2024, 1, 1) + timedelta(weeks=w),
                    "avg_price": price,
                    "quantity": 100 * price**-1.5 * math.exp(rng.normal(0, 0.05)),
                }
            )
    return pl.DataFrame(rows)


def test_elasticity_recovers_a_clean_slope():
    by_product, by_category = elasticities(_weekly_sales(10, seed=1))
    assert by_category["elasticity"][0] == pytest.approx(-1.5, abs=0.05)
    assert by_product.height == 10


def test_the_elasticity_table_lists_categories_then_products_by_key():
    by_product, by_category = elasticities(_weekly_sales(10, seed=1))
    table = elasticity_table(by_product, by_category)
    assert table.columns == ["level", "key", "category", *ELASTICITY_COLUMNS]
    assert table["level"].to_list() == ["category"] * by_category.height + ["product"] * 10
    categories = table.filter(pl.col("level") == "category")
    assert categories["key"].to_list() == by_category["category"].to_list()
    products = table.filter(pl.col("level") == "product")
    assert products["key"].to_list() == by_product["product_id"].to_list()
    assert products["elasticity"].to_list() == by_product["elasticity"].to_list()


def test_elasticity_leaves_out_products_without_a_category():
    # Found by the medium benchmark: orders of products that failed validation carry no
    # category, and a null "category" row crashed the report's chart.
    sales = _weekly_sales(6, seed=2, category=lambda p: None if p == 5 else "c")
    by_product, by_category = elasticities(sales)
    assert by_category["category"].to_list() == ["c"]
    assert "P5" not in by_product["product_id"].to_list()


def _window_elasticities(weekly: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The elasticities as first written: windows and group_by on the string keys."""
    frame = weekly.filter(
        (pl.col("quantity") > 0) & (pl.col("avg_price") > 0) & pl.col("category").is_not_null()
    ).with_columns(
        pl.col("quantity").log().alias("lq"),
        pl.col("avg_price").log().alias("lp"),
        pl.col("quantity").mean().over("product_id").alias("weight"),
    )
    for _ in range(5):
        for col in ("lq", "lp"):
            frame = frame.with_columns(
                (pl.col(col) - pl.col(col).mean().over("product_id")).alias(col)
            ).with_columns((pl.col(col) - pl.col(col).mean().over("category", "period")).alias(col))

    def fits(by: list[str], w: pl.Expr, *extra: pl.Expr) -> pl.DataFrame:
        x, y = pl.col("lp"), pl.col("lq")
        b = (w * x * y).sum() / (w * x * x).sum()
        out = frame.group_by(by, maintain_order=True).agg(
            b.alias("elasticity"),
            (w * x * x).sum().alias("sxx"),
            (w * (y - b * x) ** 2).sum().alias("sse"),
            pl.len().alias("n"),
            *extra,
        )
        ok = (pl.col("n") >= 3) & (pl.col("sxx") > 0)
        se = (pl.col("sse") / (pl.col("n") - 2) / pl.col("sxx")).sqrt()
        return out.with_columns(
            pl.when(ok).then(pl.col("elasticity")).otherwise(float("nan")).alias("elasticity"),
            pl.when(ok).then(se).otherwise(float("nan")).alias("std_error"),
        )

    by_product = fits(["product_id", "category"], pl.lit(1.0), pl.len().alias("weeks")).filter(
        pl.col("weeks") >= 8
    )
    by_category = fits(
        ["category"], pl.col("weight"), pl.col("product_id").n_unique().alias("products")
    ).sort("category")
    return by_product, by_category


def test_elasticities_by_integer_code_match_the_window_formula():
    # Two categories, one product too thin to fit (5 weeks), one without a category.
    sales = pl.concat(
        [
            _weekly_sales(8, seed=4, category=lambda p: None if p == 7 else f"c{p % 2}"),
            _weekly_sales(1, seed=5).with_columns(pl.lit("P99").alias("product_id")).head(5),
        ]
    )
    by_product, by_category = elasticities(sales)
    want_product, want_category = _window_elasticities(sales)
    assert by_product["product_id"].to_list() == want_product["product_id"].to_list()
    assert (
        by_category["category"].to_list()
        == want_category["category"].to_list()
        == ["c", "c0", "c1"]
    )
    for got, want in ((by_product, want_product), (by_category, want_category)):
        for c in ("elasticity", "std_error"):
            np.testing.assert_allclose(got[c], want[c], rtol=1e-9)
    assert by_category["products"].to_list() == want_category["products"].to_list()
    lazy = elasticities(sales.lazy())
    assert lazy[0].equals(by_product) and lazy[1].equals(by_category)


def test_elasticity_and_product_anomalies_of_no_weeks_are_empty_tables():
    # A first run with no priced orders yet: empty tables with their columns, not a crash in
    # the integer coding (no codes, no groups).
    from assets.analytics.anomalies import SCHEMA, product_anomalies

    empty = pl.DataFrame(
        schema={
            "product_id": pl.String,
            "category": pl.String,
            "period": pl.Date,
            "quantity": pl.Int64,
            "avg_price": pl.Float64,
            "revenue": pl.Float64,
        }
    )
    by_product, by_category = elasticities(empty.lazy())
    assert by_product.height == by_category.height == 0
    assert by_product.columns[:3] == ["product_id", "category", "elasticity"]
    assert product_anomalies(empty).schema == pl.Schema(SCHEMA)


def test_product_anomalies_by_integer_code_match_the_window_formula():
    from assets.analytics.anomalies import product_anomalies

    rng = np.random.default_rng(6)
    n = 40 * 30
    weekly = pl.DataFrame(
        {
            "product_id": [None if i < 30 else f"P{i // 30}" for i in range(n)],
            "period": [date(2024, 1, 1) + timedelta(weeks=i % 30) for i in range(n)],
            "revenue": rng.lognormal(6, 0.3, n) * np.where(rng.random(n) < 0.02, 40, 1),
        }
    )
    lr = pl.col("revenue").log1p()
    med = lr.median().over("product_id")
    mad = (lr - med).abs().median().over("product_id") * 1.4826
    want = weekly.with_columns(((lr - med) / pl.max_horizontal(mad, pl.lit(1e-6))).alias("rz"))
    want = want.filter(pl.col("rz").abs() > 4.0)
    got = product_anomalies(weekly.lazy())
    assert want.height >= 10 and got["entity_id"].null_count() > 0  # the null id is a product
    assert got["entity_id"].to_list() == want["product_id"].to_list()
    assert got["period"].to_list() == want["period"].to_list()
    np.testing.assert_allclose(got["score"], want["rz"].abs(), rtol=1e-12)


def test_customer_anomalies_flag_what_isolation_forest_predicts_with_their_top_drivers():
    from sklearn.ensemble import IsolationForest

    from assets.analytics.anomalies import CUSTOMER_FEATURES, SEED, customer_anomalies

    rng = np.random.default_rng(3)
    n = 2000
    values = {c: rng.gamma(2.0, 5.0, n) for c in CUSTOMER_FEATURES}
    values["total_value"][7] = 5e5  # one customer far out, mostly on total value
    values["order_count"][7] = 900
    profiles = pl.DataFrame(
        {
            "customer_id": [f"C{i:04d}" for i in range(n)],  # stored in key order
            "as_of_date": [date(2025, 1, 1)] * n,
            **values,
        }
    )
    out = customer_anomalies(profiles, contamination=0.02)

    # The same forest's own predict() flags the same rows.
    X = np.log1p(profiles.select(CUSTOMER_FEATURES).to_numpy().astype(float).clip(0, None))
    forest = IsolationForest(n_estimators=200, random_state=SEED, contamination=0.02).fit(X)
    expected = profiles["customer_id"].filter(pl.Series(forest.predict(X) == -1)).to_list()
    assert out["entity_id"].to_list() == expected and "C0007" in expected
    # The score is the forest's anomaly score (higher is more anomalous).
    # Bit for bit: the float32 input built a column at a time is what the forest casts X to.
    np.testing.assert_array_equal(out["score"], -forest.score_samples(X)[forest.predict(X) == -1])
    # A lazy input (as the asset passes it) gives the same table.
    assert customer_anomalies(profiles.lazy(), contamination=0.02).equals(out)

    # Drivers, row by row as a reader would compute them: the three largest |robust z|.
    med = np.median(X, axis=0)
    mad = np.median(np.abs(X - med), axis=0) * 1.4826
    for cid, text in zip(out["entity_id"], out["drivers"], strict=True):
        rz = (X[int(cid[1:])] - med) / np.where(mad > 0, mad, 1.0)
        top = np.argsort(-np.abs(rz))[:3]
        assert text == ", ".join(
            f"{CUSTOMER_FEATURES[i]} {'high' if rz[i] > 0 else 'low'} (z {round(rz[i], 1)})"
            for i in top
        )
    far_out = out.filter(pl.col("entity_id") == "C0007")["drivers"].item()
    assert far_out.startswith("total_value high")


@pytest.mark.parametrize("encoding", ["onehot", "target"])
def test_permutation_auc_drops_are_scikit_learns_with_the_preprocessing_run_once(encoding):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.inspection import permutation_importance
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    from assets.analytics.models import permutation_auc_drops

    rng = np.random.default_rng(4)
    n = 1500
    frame = pl.DataFrame(
        {
            "a": rng.normal(0, 1, n),
            "b": rng.gamma(2, 3, n),
            "c": rng.normal(0, 1, n),
            "plan": rng.choice(["free", "basic", "pro", "enterprise"], n),
        }
    ).with_columns(b=pl.when(pl.Series(rng.random(n) < 0.1)).then(None).otherwise("b"))
    logit = 1.5 * frame["a"].to_numpy() + 0.8 * (frame["plan"] == "free").to_numpy()
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    options = PreprocessingOptions(encoding_strategy=encoding)
    pre, _ = build_preprocessor(frame, ["a", "b", "c"], ["plan"], options)
    model = Pipeline(
        [("preprocess", pre), ("classifier", HistGradientBoostingClassifier(max_iter=30))]
    )
    X = frame.to_pandas()
    model.fit(X, y)
    mean, std = permutation_auc_drops(model, X, y, n_repeats=3, seed=11)
    ref = permutation_importance(model, X, y, scoring="roc_auc", n_repeats=3, random_state=11)
    np.testing.assert_allclose(mean, ref["importances_mean"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(std, ref["importances_std"], rtol=0, atol=1e-12)
    assert mean[0] == mean.max() > 0.05  # "a" drives the label

    # A transformer reading two columns cannot be shuffled in its outputs: scikit-learn's own.
    mixed = Pipeline(
        [
            ("preprocess", ColumnTransformer([("ac", StandardScaler(), ["a", "c"])])),
            ("classifier", HistGradientBoostingClassifier(max_iter=30)),
        ]
    ).fit(X[["a", "c"]], y)
    mean, _ = permutation_auc_drops(mixed, X[["a", "c"]], y, n_repeats=2, seed=3)
    ref = permutation_importance(
        mixed, X[["a", "c"]], y, scoring="roc_auc", n_repeats=2, random_state=3
    )
    np.testing.assert_allclose(mean, ref["importances_mean"], rtol=0, atol=1e-12)


def test_isolation_forest_scores_split_across_threads_are_bit_identical():
    from sklearn.ensemble import IsolationForest

    from assets.analytics.anomalies import _score_samples

    X = np.random.default_rng(8).gamma(2.0, 3.0, (3001, 5))
    forest = IsolationForest(n_estimators=50, random_state=0).fit(X)
    # min_rows=100: as many parts as there are CPUs (one part on a single-CPU machine).
    assert np.array_equal(_score_samples(forest, X, min_rows=100), forest.score_samples(X))
    # Parts of at most max_rows (so memory does not grow with the rows scored), in order.
    assert np.array_equal(_score_samples(forest, X, max_rows=500), forest.score_samples(X))


def test_log_features_are_log1p_of_the_clipped_columns_with_nulls_as_zero():
    from assets.analytics.anomalies import log_features

    frame = pl.DataFrame({"a": [1, None, -3, 7], "b": [0.5, 2.0, None, -1.0], "c": ["x"] * 4})
    X = log_features(frame, ["a", "b"])
    want = np.log1p(frame.select("a", "b").fill_null(0).to_numpy().astype(float).clip(0, None))
    assert X.dtype == np.float64 and np.array_equal(X, want)


def test_the_anomaly_table_orders_by_kind_then_the_strongest_first():
    from assets.analytics.anomalies import anomaly_table

    def rows(kind: str, scores: list[float]) -> pl.DataFrame:
        return pl.DataFrame(
            {"entity_type": kind, "entity_id": [f"{kind}{i}" for i in range(len(scores))]}
        ).with_columns(pl.Series("score", scores))

    table = anomaly_table(rows("product", [4.0, 9.0]), rows("day", [5.0, 6.0]), rows("day", [7.0]))
    assert table["entity_id"].to_list() == ["day0", "day1", "day0", "product1", "product0"]
    assert table["score"].to_list() == [7.0, 6.0, 5.0, 9.0, 4.0]


def test_the_backtest_is_kept_beside_the_forecast_unrounded(tmp_path):
    from assets.analytics.forecast import read_backtest, write_backtest

    table = tmp_path / "revenue_forecast"
    assert read_backtest(table) is None  # a forecast written without a backtest
    write_backtest(table, 0.296_749_1, 60)
    assert read_backtest(table) == 0.296_749_1
    assert [p.name for p in table.glob("part-*")] == []  # scans of the table never see it


def test_customer_anomalies_do_not_depend_on_the_order_rows_are_stored_in():
    """The lake does not promise a row order (parallel writers, joins, group_by); the same
    customers must get the same flags and scores however their rows are ordered."""
    from assets.analytics.anomalies import CUSTOMER_FEATURES, customer_anomalies

    rng = np.random.default_rng(5)
    n = 3000
    profiles = pl.DataFrame(
        {
            "customer_id": [f"C{i}" for i in range(n)],
            "as_of_date": [date(2025, 1, 1)] * n,
            **{c: rng.gamma(2.0, 5.0, n) for c in CUSTOMER_FEATURES},
        }
    )
    out = customer_anomalies(profiles, contamination=0.02).sort("entity_id")
    shuffled = profiles.sample(fraction=1.0, shuffle=True, seed=11)
    again = customer_anomalies(shuffled.lazy(), contamination=0.02).sort("entity_id")
    assert again.equals(out)


@pytest.mark.e2e
def test_segments_do_not_depend_on_the_order_rows_are_stored_in(world):
    profiles = world["profiles"]
    shuffled = profiles.sample(fraction=1.0, shuffle=True, seed=11)
    for kwargs in ({}, {"fit_rows": 2000, "batch_rows": 1500}):
        whole, info = segment_customers(profiles.lazy(), **kwargs)
        again, info_again = segment_customers(shuffled.lazy(), **kwargs)
        assert info_again == info
        assert again.sort("customer_id").equals(whole.sort("customer_id"))
