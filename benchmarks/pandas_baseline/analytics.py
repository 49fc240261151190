"""The baseline's analytics, with the pipeline's models, settings and sample sizes: the churn
model, scores and segments with the same scikit-learn estimators, the revenue forecast (with its
backtest), price elasticities per product and per category, and the day, product and customer
anomalies with the pipeline's thresholds."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from benchmarks.pandas_baseline.features import FEATURES

SEED = 0  # the pipeline's


def churn_model(churn: pd.DataFrame) -> tuple[Any, float]:
    """The pipeline's estimator and settings: fit on the train snapshot, judged on the holdout,
    with permutation importance on at most 5,000 holdout rows."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import RobustScaler

    from assets.analytics.models import CLASSIFIER_PARAMS

    train, test = churn[churn["snapshot"] == "train"], churn[churn["snapshot"] == "holdout"]
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", RobustScaler())])
    model = Pipeline(
        [
            ("preprocess", ColumnTransformer([("num", numeric, FEATURES)])),
            ("classifier", HistGradientBoostingClassifier(**CLASSIFIER_PARAMS)),
        ]
    )
    model.fit(train[FEATURES], train["churned"].astype(int))
    y = test["churned"].astype(int).to_numpy()
    auc = float(roc_auc_score(y, model.predict_proba(test[FEATURES])[:, 1]))
    sample = np.random.default_rng(SEED).permutation(len(y))[:5000]
    permutation_importance(
        model,
        test[FEATURES].iloc[sample],
        y[sample],
        scoring="roc_auc",
        n_repeats=3,
        random_state=SEED,
        n_jobs=1,
    )
    return model, auc


def segments(profiles: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """KMeans on log-scaled RFM and usage, k in 3..6 by silhouette on a 5,000-row sample."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.preprocessing import StandardScaler

    last = profiles["last_order"].fillna(pd.to_datetime(profiles["account_created_date"]))
    X = pd.DataFrame(
        {
            "recency_days": (as_of - last).dt.days,
            "order_count": profiles["order_count"],
            "total_value": profiles["total_value"],
            "feature_usage_count": profiles["events"],
            "distinct_features_used": profiles["features"],
        }
    ).fillna(0)
    Z = StandardScaler().fit_transform(np.log1p(X.to_numpy(dtype=float).clip(0, None)))
    idx = np.random.default_rng(SEED).choice(len(Z), size=min(5000, len(Z)), replace=False)
    scores = {}
    for k in range(3, 7):
        labels = KMeans(n_clusters=k, random_state=SEED).fit_predict(Z)
        scores[k] = silhouette_score(Z[idx], labels[idx])
    best = max(scores, key=lambda k: scores[k])
    labels = KMeans(n_clusters=best, random_state=SEED).fit_predict(Z)
    return profiles[["customer_id"]].assign(segment=labels)


def _design(days: pd.Series, origin: pd.Timestamp, knots: list[float]) -> np.ndarray:
    """The pipeline's forecast design: trend, trend changes at ``knots``, weekday and month."""
    t = ((days - origin).dt.days / 365.25).to_numpy()
    dow, month = days.dt.day_of_week.to_numpy(), days.dt.month.to_numpy()
    cols = [np.ones(len(t)), t, *[np.maximum(t - k, 0.0) for k in knots]]
    cols += [(dow == k).astype(float) for k in range(1, 7)]  # Monday is the base
    cols += [(month == m).astype(float) for m in range(2, 13)]  # January is the base
    return np.column_stack(cols)


def seasonal_fit(days: pd.DataFrame) -> tuple[pd.Timestamp, list[float], np.ndarray, float]:
    """OLS on log1p(revenue), refitted once without the days beyond 3.5 robust sigmas (the
    pipeline's solver, on a design built with pandas)."""
    from assets.analytics.forecast import changepoints, robust_lstsq

    y = np.log1p(days["revenue"].to_numpy(dtype=float))
    origin, knots = days["day"].min(), changepoints(len(days))
    coef, sigma, _ = robust_lstsq(_design(days["day"], origin, knots), y)
    return origin, knots, coef, sigma


def _forecast(model: tuple[pd.Timestamp, list[float], np.ndarray, float], start, days: int):
    from assets.analytics.forecast import Z80, Z95

    origin, knots, coef, s = model
    dates = pd.Series(pd.date_range(start, periods=days, freq="D"))
    mu = _design(dates, origin, knots) @ coef
    out = pd.DataFrame({"day": dates, "horizon_day": np.arange(1, days + 1)})
    out["forecast"] = np.expm1(mu + s * s / 2).clip(0, None)
    for name, z in (("80", Z80), ("95", Z95)):
        out[f"lower_{name}"] = np.expm1(mu - z * s).clip(0, None)
        out[f"upper_{name}"] = np.expm1(mu + z * s).clip(0, None)
    return out


def revenue_forecast(days: pd.DataFrame, holdout: int = 60, horizon: int = 90) -> pd.DataFrame:
    """A 60-day backtest (MAPE, in ``attrs``), then the 90-day forecast from the full history."""
    train, test = days.iloc[:-holdout], days.iloc[-holdout:]
    predicted = _forecast(seasonal_fit(train), test["day"].iloc[0], holdout)
    joined = test.merge(predicted, on="day")
    actual = joined[joined["revenue"] > 0]
    mape = float(((actual["forecast"] - actual["revenue"]).abs() / actual["revenue"]).mean())
    out = _forecast(seasonal_fit(days), days["day"].iloc[-1] + pd.Timedelta(days=1), horizon)
    out.attrs["backtest_mape"] = mape
    return out


def _slopes(sums: pd.DataFrame, n: pd.Series) -> pd.DataFrame:
    """(Weighted) OLS slope of centred data and its standard error, from the sums."""
    from assets.analytics.elasticity import T95, best_price_changes

    b = sums["xy"] / sums["xx"]
    sse = sums["yy"] - 2 * b * sums["xy"] + b * b * sums["xx"]
    se = np.sqrt(sse.clip(lower=0) / (n - 2) / sums["xx"])
    out = pd.DataFrame({"elasticity": b, "std_error": se})
    out["ci_low"], out["ci_high"] = b - T95 * se, b + T95 * se
    out["best_price_change"], out["expected_revenue_change"] = best_price_changes(b.to_numpy())
    return out


def elasticities(weekly: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Log-log slope of weekly quantity on price after two-way (product, category-week) demeaning,
    per product (at least 8 weeks) and per category weighted by mean weekly quantity."""
    from assets.analytics.elasticity import MIN_WEEKS

    f = weekly[
        (weekly["quantity"] > 0) & (weekly["avg_price"] > 0) & weekly["category"].notna()
    ].copy()
    f["lq"], f["lp"] = np.log(f["quantity"]), np.log(f["avg_price"])
    f["weight"] = f.groupby("product_id")["quantity"].transform("mean")
    for _ in range(5):
        for col in ("lq", "lp"):
            f[col] -= f.groupby("product_id")[col].transform("mean")
            f[col] -= f.groupby(["category", "period"])[col].transform("mean")
    f["xy"], f["xx"], f["yy"] = f["lp"] * f["lq"], f["lp"] ** 2, f["lq"] ** 2
    per = f.groupby(["product_id", "category"]).agg(
        xy=("xy", "sum"), xx=("xx", "sum"), yy=("yy", "sum"), weeks=("lq", "size")
    )
    per = per[per["weeks"] >= MIN_WEEKS]
    by_product = per[["weeks"]].join(_slopes(per, per["weeks"])).reset_index()
    for col in ("xy", "xx", "yy"):
        f[f"w{col}"] = f["weight"] * f[col]
    cat = f.groupby("category").agg(
        xy=("wxy", "sum"),
        xx=("wxx", "sum"),
        yy=("wyy", "sum"),
        observations=("lq", "size"),
        products=("product_id", "nunique"),
    )
    by_category = cat[["observations", "products"]].join(_slopes(cat, cat["observations"]))
    return by_product, by_category.reset_index()


def anomalies(
    days: pd.DataFrame, weekly: pd.DataFrame, profiles: pd.DataFrame, as_of: pd.Timestamp
) -> pd.DataFrame:
    """Days beyond 3.5 robust sigmas of the seasonal fit, product-weeks whose log revenue is more
    than 4 robust sigmas from the product's median, and customers an IsolationForest (200 trees,
    1% contamination) isolates, on the pipeline's seven log-scaled profile features."""
    from sklearn.ensemble import IsolationForest

    from assets.analytics.anomalies import CUSTOMER_FEATURES
    from assets.analytics.forecast import OUTLIER_Z, robust_sigma

    origin, knots, coef, _ = seasonal_fit(days)
    resid = (
        np.log1p(days["revenue"].to_numpy(dtype=float)) - _design(days["day"], origin, knots) @ coef
    )
    z = (resid - np.median(resid)) / robust_sigma(resid)
    day_rows = pd.DataFrame(
        {"entity_type": "day", "entity_id": days["day"].astype(str), "score": np.abs(z)}
    )[np.abs(z) > OUTLIER_Z]

    lr = np.log1p(weekly["revenue"])
    med = lr.groupby(weekly["product_id"]).transform("median")
    mad = (lr - med).abs().groupby(weekly["product_id"]).transform("median") * 1.4826
    rz = ((lr - med) / mad.clip(lower=1e-6)).abs()
    product_rows = pd.DataFrame(
        {"entity_type": "product", "entity_id": weekly["product_id"], "score": rz}
    )[rz > 4.0]

    p = profiles.fillna({"order_count": 0, "total_value": 0, "tickets": 0, "events": 0})
    created = pd.to_datetime(p["account_created_date"])
    X = pd.DataFrame(
        {
            "order_count": p["order_count"],
            "total_value": p["total_value"],
            "avg_order_value": (p["total_value"] / p["order_count"]).where(p["order_count"] > 0),
            "support_ticket_count": p["tickets"],
            "feature_usage_count": p["events"],
            "distinct_features_used": p["features"],
            "tenure_days": (as_of - created).dt.days,
        }
    )[CUSTOMER_FEATURES]
    X = np.log1p(X.fillna(0).to_numpy(dtype=float).clip(0, None))
    forest = IsolationForest(n_estimators=200, random_state=SEED, contamination=0.01).fit(X)
    normality = forest.score_samples(X)
    flagged = normality < forest.offset_
    customer_rows = pd.DataFrame(
        {
            "entity_type": "customer",
            "entity_id": p["customer_id"][flagged],
            "score": -normality[flagged],
        }
    )
    return pd.concat([day_rows, product_rows, customer_rows], ignore_index=True)
