"""The pandas baseline: what a team would write without this project, done fairly and idiomatically.

It reads the same landing CSVs with pandas, casts them to the same contracts, validates them with
pandera-on-pandas (a ``DataFrameSchema`` built from the same specs, ``lazy=True`` to collect
every failure) plus pandas code for keys, foreign keys and cross-field rules, splits valid from
quarantined rows, writes both to Parquet, then does the enrichment joins and aggregates, the
churn, revenue and price features, and the analytics: the churn model, scores and segments with
the same scikit-learn estimators, settings and sample sizes as the pipeline, the revenue forecast
(with its backtest), price elasticities per product and per category, and the day, product and
customer anomalies, with the pipeline's models and thresholds.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa

from assets.core.spec import ColumnSpec, CompareRule, DatasetSpec, load_catalog
from assets.features.blueprints import CHURN_FEATURES, ENGAGEMENT_WEIGHTS, PLAN_SCORE
from benchmarks.laps import Laps

ORDER = ["customers", "products", "orders", "support_tickets", "usage_events"]
_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _bound(col: ColumnSpec, value: float | str) -> object:
    if col.type in ("date", "datetime"):
        return pd.Timestamp(date.today() if value == "today" else value)
    return float(value)


def read_entity(folder: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cast(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Typed frame plus a per-row 'uncastable' flag, as the pipeline's conform step does."""
    out = raw.copy()
    bad = pd.Series(False, index=raw.index)
    for col in spec.columns:
        if col.name not in raw.columns:
            out[col.name] = pd.NA
            continue
        text = raw[col.name].str.strip()
        empty = text.isin(["", "null", "NULL", "None"])
        if col.type == "integer":
            value = pd.to_numeric(text.where(~empty), errors="coerce")
            value = value.where(value == value.round()).astype("Int64")
        elif col.type == "float":
            value = pd.to_numeric(text.where(~empty), errors="coerce")
        elif col.type == "boolean":
            low = text.str.lower()
            value = low.map({"true": True, "1": True, "yes": True, "false": False, "0": False})
        elif col.type in ("date", "datetime"):
            value = pd.to_datetime(text.where(~empty), errors="coerce", format="mixed")
        else:
            value = raw[col.name].where(~empty)
        bad |= value.isna() & ~empty
        out[col.name] = value
    return out, bad


def pandera_schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    columns = {}
    for col in spec.columns:
        checks = []
        if col.min is not None:
            checks.append(pa.Check.ge(_bound(col, col.min)))
        if col.max is not None:
            checks.append(pa.Check.le(_bound(col, col.max)))
        if col.allowed is not None:
            checks.append(pa.Check.isin(col.allowed))
        if col.regex is not None:
            checks.append(pa.Check.str_matches(col.regex))
        columns[col.name] = pa.Column(nullable=not col.required, checks=checks, coerce=False)
    return pa.DataFrameSchema(columns, strict=False)


def validate(
    typed: pd.DataFrame,
    uncastable: pd.Series,
    spec: DatasetSpec,
    parents: dict[str, pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    bad = uncastable.copy()
    try:
        pandera_schema(spec).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        index = exc.failure_cases["index"].dropna().astype(int).unique()
        bad.loc[bad.index.isin(index)] = True
    for key in [spec.key, *spec.unique_keys]:
        if key:
            bad |= typed.duplicated(subset=key, keep="first") & typed[key].notna().all(axis=1)
    for fk in spec.foreign_keys:
        parent = parents.get(fk.references)
        if parent is not None:
            bad |= (
                ~typed[fk.columns[0]].isin(parent[fk.ref_columns[0]]) & typed[fk.columns[0]].notna()
            )
    for rule in spec.rules:
        if isinstance(rule, CompareRule):
            left, right = typed[rule.left], typed[rule.right]
            ok = _OPS[rule.op](left, right * rule.factor if rule.factor != 1 else right)
            bad |= ~ok.fillna(True).astype(bool) & left.notna() & right.notna()
        else:
            parent = parents.get(rule.references)
            if parent is None:
                continue
            ref = (
                typed[[rule.via]]
                .merge(
                    parent[[rule.ref_key, rule.ref_column]].drop_duplicates(rule.ref_key),
                    left_on=rule.via,
                    right_on=rule.ref_key,
                    how="left",
                )[rule.ref_column]
                .to_numpy()
            )
            left = typed[rule.left].to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                ok = _OPS[rule.op](left, ref.astype(float) * rule.factor)
            bad |= ~(ok | np.isnan(left) | np.isnan(ref.astype(float)))
    return typed[~bad], typed[bad]


def run(data_dir: Path, out_dir: Path) -> tuple[Laps, float]:
    """Every stage the baseline covers; returns their laps and the churn model's holdout AUC."""
    catalog = load_catalog()
    laps = Laps()
    raw = {name: read_entity(data_dir / "landing" / name) for name in ORDER}
    typed = {name: cast(raw[name], catalog[name]) for name in ORDER}
    laps.lap("ingestion")

    laps.start()
    valid: dict[str, pd.DataFrame] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ORDER:
        # Parents are checked against every raw parent row, as the pipeline does.
        parents = {p: typed[p][0] for p in ORDER if p != name}
        good, quarantined = validate(*typed[name], catalog[name], parents)
        valid[name] = good
        good.to_parquet(out_dir / f"validated_{name}.parquet")
        quarantined.to_parquet(out_dir / f"quarantined_{name}.parquet")
    laps.lap("validation")

    laps.start()
    orders = (
        valid["orders"]
        .merge(
            valid["products"][["product_id", "category", "unit_cost", "list_price"]],
            on="product_id",
            how="left",
        )
        .merge(
            valid["customers"][["customer_id", "country", "plan_type"]],
            on="customer_id",
            how="left",
        )
    )
    orders["gross_amount"] = orders["quantity"] * orders["unit_price"]
    orders["revenue"] = np.where(
        orders["status"] == "completed",
        orders["gross_amount"] * (1 - orders["discount"].fillna(0)),
        0.0,
    )
    orders["margin"] = orders["revenue"] - np.where(
        orders["status"] == "completed", orders["quantity"] * orders["unit_cost"], 0.0
    )
    orders["day"] = orders["order_ts"].dt.normalize()
    orders["weekday"] = orders["order_ts"].dt.dayofweek
    orders["month"] = orders["order_ts"].dt.month
    orders.to_parquet(out_dir / "enriched_orders.parquet")
    daily = orders.groupby("day").agg(
        revenue=("revenue", "sum"),
        orders=("order_id", "nunique"),
        customers=("customer_id", "nunique"),
    )
    daily.to_parquet(out_dir / "daily_revenue.parquet")
    profiles = orders.groupby("customer_id").agg(
        order_count=("order_id", "nunique"),
        total_value=("revenue", "sum"),
        last_order=("order_ts", "max"),
    )
    tickets = valid["support_tickets"].groupby("customer_id").size().rename("tickets")
    usage = (
        valid["usage_events"]
        .groupby("customer_id")
        .agg(events=("event_id", "size"), features=("feature", "nunique"))
    )
    profiles = (
        valid["customers"][["customer_id", "plan_type", "account_created_date"]]
        .merge(profiles, on="customer_id", how="left")
        .merge(tickets, on="customer_id", how="left")
        .merge(usage, on="customer_id", how="left")
    )
    profiles.to_parquet(out_dir / "customer_profiles.parquet")
    product_daily = orders.groupby(["product_id", "day"]).agg(
        quantity=("quantity", "sum"), revenue=("revenue", "sum"), avg_price=("unit_price", "mean")
    )
    product_daily.to_parquet(out_dir / "product_daily_sales.parquet")
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


HORIZON_DAYS = 60
SEED = 0  # the pipeline's
FEATURES = CHURN_FEATURES  # the same nine features, computed below with pandas


def churn_features(
    customers: pd.DataFrame,
    orders: pd.DataFrame,
    tickets: pd.DataFrame,
    events: pd.DataFrame,
    cutoff: pd.Timestamp,
    *,
    labelled: bool,
) -> pd.DataFrame:
    """The nine churn features as of ``cutoff`` (the pipeline's formulas), and the label."""
    end = cutoff + pd.Timedelta(days=1)
    o = orders[orders["order_ts"] < end]
    t = tickets[tickets["opened_ts"] < end]
    e = events[events["event_ts"] < end]
    last = (
        pd.concat(
            [
                o.groupby("customer_id")["order_ts"].max(),
                t.groupby("customer_id")["opened_ts"].max(),
                e.groupby("customer_id")["event_ts"].max(),
            ],
            axis=1,
        )
        .max(axis=1)
        .dt.normalize()
        .rename("last_activity")
    )
    created = pd.to_datetime(customers["account_created_date"])
    base = customers.loc[created <= cutoff, ["customer_id", "plan_type"]].assign(
        created=created[created <= cutoff]
    )
    base = (
        base.join(last, on="customer_id")
        .join(o.groupby("customer_id")["revenue"].sum().rename("total_value"), on="customer_id")
        .join(t.groupby("customer_id").size().rename("tickets"), on="customer_id")
        .join(e.groupby("customer_id").size().rename("events"), on="customer_id")
    )
    base[["total_value", "tickets", "events"]] = base[["total_value", "tickets", "events"]].fillna(
        0
    )
    tenure = (cutoff - base["created"]).dt.days + 1.0
    days_since = (cutoff - base["last_activity"].fillna(base["created"])).dt.days.astype(float)
    f = base[["customer_id", "plan_type"]].copy()
    f["days_since_last_activity"] = days_since
    f["account_tenure_days"] = tenure
    f["daily_value_rate"] = base["total_value"] / tenure
    f["support_intensity"] = base["tickets"] / (tenure / 30.4375)
    f["feature_usage_rate"] = base["events"] / tenure
    f["activity_recency_score"] = np.exp(-days_since / 30.0)
    f["plan_value_score"] = base["plan_type"].map(PLAN_SCORE).fillna(0).astype(int)
    n = len(f)
    rank = base["total_value"].rank(method="min")
    f["value_tier"] = (np.floor((rank - 1) / max(n, 1) * 4).clip(0, 3) + 1).astype(int)
    usage_rank = (f["feature_usage_rate"].rank() - 1) / max(n - 1, 1)
    support_rank = (f["support_intensity"].rank() - 1) / max(n - 1, 1)
    w = ENGAGEMENT_WEIGHTS
    f["engagement_score"] = (
        w["recency"] * f["activity_recency_score"]
        + w["usage"] * usage_rank
        + w["value"] * (f["value_tier"] - 1) / 3
        + w["plan"] * f["plan_value_score"] / 3
        + w["low_support"] * (1 - support_rank)
    ).clip(0, 1)
    f = f.sort_values("customer_id", ignore_index=True)
    if not labelled:
        return f
    after = end + pd.Timedelta(days=HORIZON_DAYS)
    active = pd.concat(
        [
            orders.loc[orders["order_ts"].between(end, after, inclusive="left"), "customer_id"],
            tickets.loc[tickets["opened_ts"].between(end, after, inclusive="left"), "customer_id"],
            events.loc[events["event_ts"].between(end, after, inclusive="left"), "customer_id"],
        ]
    ).unique()
    f["churned"] = ~f["customer_id"].isin(active)
    return f


def revenue_features(daily: pd.DataFrame) -> pd.DataFrame:
    """Moving averages, growth rates, seasonal indices and volatility per day."""
    d = daily.sort_values("day").reset_index(drop=True)
    r = d["revenue"]
    for w in (7, 30, 90):
        d[f"ma_{w}"] = r.rolling(w, min_periods=1).mean()
    for lag in (1, 7, 30):
        d[f"growth_{lag}d"] = (r / r.shift(lag) - 1).replace([np.inf, -np.inf], np.nan)
    d["day_of_week"], d["month"] = d["day"].dt.dayofweek, d["day"].dt.month
    d["quarter"] = d["day"].dt.quarter
    mean = r.mean()
    for part in ("day_of_week", "month", "quarter"):
        d[f"{part}_index"] = d.groupby(part)["revenue"].transform("mean") / mean
    d["volatility_30d"] = r.rolling(30, min_periods=7).std() / r.rolling(30, min_periods=7).mean()
    return d


def price_features(product_daily: pd.DataFrame, products: pd.DataFrame) -> pd.DataFrame:
    """Product x week: revenue, price index, demand trend, elasticity indicator, position."""
    s = product_daily.merge(products[["product_id", "category"]], on="product_id", how="left")
    s["period"] = s["day"].dt.to_period("W").dt.start_time
    s["paid"] = s["avg_price"] * s["quantity"]
    per = (
        s.groupby(["product_id", "category", "period"], dropna=False)
        .agg(quantity=("quantity", "sum"), revenue=("revenue", "sum"), paid=("paid", "sum"))
        .reset_index()
        .sort_values(["product_id", "period"])
    )
    per["avg_price"] = per["paid"] / per["quantity"]
    g = per.groupby("product_id")
    per["price_index"] = per["avg_price"] / g["avg_price"].transform("median")
    per["demand_trend"] = per["quantity"] / g["quantity"].transform(
        lambda q: q.shift(1).rolling(4, min_periods=1).mean()
    )
    dlogp = np.log(per["avg_price"]) - np.log(g["avg_price"].shift(1))
    dlogq = np.log(per["quantity"]) - np.log(g["quantity"].shift(1))
    per["elasticity_indicator"] = (dlogq / dlogp).where(dlogp.abs() >= 0.005)
    per["price_position"] = per.groupby(["category", "period"])["price_index"].rank(pct=True)
    return per


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
