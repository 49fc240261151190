"""Churn model and customer segments: scikit-learn with every random state fixed.

The churn model is the saved preprocessing followed by a gradient-boosted classifier, trained on
the ``train`` snapshot and judged on the later ``holdout`` snapshot. The decision threshold is
the one that maximises F1 on the training rows; risk bands are fixed probability cut-offs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import polars as pl
from scipy.sparse import issparse
from sklearn.base import clone
from sklearn.calibration import calibration_curve
from sklearn.cluster import KMeans
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    precision_recall_curve,
    roc_auc_score,
    silhouette_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from assets.analytics.anomalies import log_features
from assets.core.frames import fit_sample
from assets.features.preprocessing import to_pandas_inputs

SEED = 0
RISK_BANDS = [(0.6, "high"), (0.3, "medium"), (0.0, "low")]


@dataclass
class ChurnModelResult:
    model: Pipeline
    threshold: float
    metrics: dict[str, float]
    importances: list[dict[str, float | str]]
    calibration: list[dict[str, float]]


# The churn classifier's settings (the benchmark's pandas baseline fits the same estimator).
CLASSIFIER_PARAMS: dict[str, Any] = {
    "max_iter": 200,
    "learning_rate": 0.08,
    "max_leaf_nodes": 31,
    "l2_regularization": 1.0,
    "random_state": SEED,
}


def train_churn_model(
    features: pl.DataFrame, preprocessor: Pipeline, columns: list[str]
) -> ChurnModelResult:
    """Fit on snapshot == train, evaluate on snapshot == holdout."""
    train = features.filter(pl.col("snapshot") == "train")
    test = features.filter(pl.col("snapshot") == "holdout")
    if train.height == 0 or test.height == 0:
        raise ValueError("churn_features needs both a train and a holdout snapshot")
    X_train, y_train = to_pandas_inputs(train, columns), train["churned"].cast(pl.Int8).to_numpy()
    X_test, y_test = to_pandas_inputs(test, columns), test["churned"].cast(pl.Int8).to_numpy()
    model = Pipeline(
        [
            ("preprocess", clone(preprocessor)),
            (
                "classifier",
                HistGradientBoostingClassifier(**CLASSIFIER_PARAMS),
            ),
        ]
    )
    model.fit(X_train, y_train)
    train_proba = model.predict_proba(X_train)[:, 1]
    precision, recall, thresholds = precision_recall_curve(y_train, train_proba)
    f1 = 2 * precision * recall / np.clip(precision + recall, 1e-12, None)
    threshold = float(thresholds[int(np.argmax(f1[:-1]))]) if len(thresholds) else 0.5
    proba = model.predict_proba(X_test)[:, 1]
    predicted = (proba >= threshold).astype(int)
    tp = int((predicted & y_test).sum())
    metrics = {
        "roc_auc": float(roc_auc_score(y_test, proba)),
        "pr_auc": float(average_precision_score(y_test, proba)),
        "precision_at_threshold": float(tp / max(predicted.sum(), 1)),
        "recall_at_threshold": float(tp / max(y_test.sum(), 1)),
        "threshold": threshold,
        "brier_score": float(brier_score_loss(y_test, proba)),
        "holdout_churn_rate": float(y_test.mean()),
        "train_rows": float(len(y_train)),
        "holdout_rows": float(len(y_test)),
    }
    frac_pos, mean_pred = calibration_curve(y_test, proba, n_bins=10, strategy="quantile")
    calibration = [
        {"mean_predicted": float(p), "observed_rate": float(o)}
        for p, o in zip(mean_pred, frac_pos, strict=True)
    ]
    # Permutation importance on at most 5,000 holdout rows: enough for a stable ranking.
    sample = np.random.default_rng(SEED).permutation(len(y_test))[:5000]
    mean, std = permutation_auc_drops(
        model, X_test.iloc[sample], y_test[sample], n_repeats=3, seed=SEED
    )
    order = np.argsort(-mean)
    importances = [
        {
            "feature": columns[i],
            "auc_drop": round(float(mean[i]), 5),
            "std": round(float(std[i]), 5),
        }
        for i in order
    ]
    return ChurnModelResult(model, threshold, metrics, importances, calibration)


def permutation_auc_drops(
    model: Pipeline, X: pd.DataFrame, y: np.ndarray, *, n_repeats: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of the drop in ROC AUC when each column of ``X`` is shuffled.

    The same numbers as ``permutation_importance(model, X, y, scoring="roc_auc", n_repeats=...,
    random_state=seed)``, with the same shuffles, but the preprocessing runs once instead of once
    per shuffle (it was ~60% of each of the 28 scorings): every transformer of the preprocessor's
    ``ColumnTransformer`` reads one input column row by row, so shuffling an input column's rows
    shuffles exactly its output columns' rows. A preprocessor without that shape goes to
    scikit-learn's own function.
    """
    inputs = list(X.columns)
    steps: Any = model[:-1]
    while isinstance(steps, Pipeline) and len(steps.steps) == 1:
        steps = steps.steps[0][1]
    if not isinstance(steps, ColumnTransformer) or not _one_column_each(steps, inputs):
        perm: Any = permutation_importance(
            model, X, y, scoring="roc_auc", n_repeats=n_repeats, random_state=seed, n_jobs=1
        )
        return perm["importances_mean"], perm["importances_std"]
    transformed = model[:-1].transform(X)
    Xt = np.asarray(transformed.toarray() if issparse(transformed) else transformed)
    classifier = model[-1]

    def auc(data: np.ndarray) -> float:  # scikit-learn's roc_auc scorer uses decision_function
        return float(roc_auc_score(y, classifier.decision_function(data)))

    baseline = auc(Xt)
    outputs = {
        cols[0]: steps.output_indices_[name]
        for name, _, cols in steps.transformers_
        if name != "remainder"
    }
    # As scikit-learn: one seed drawn from ``seed``, a fresh generator from it for every column,
    # and each repeat shuffles the already shuffled column again.
    column_seed = np.random.RandomState(seed).randint(np.iinfo(np.int32).max + 1)
    drops = np.empty((len(inputs), n_repeats))
    for j, column in enumerate(inputs):
        generator = np.random.RandomState(column_seed)
        permuted, order = Xt.copy(), np.arange(len(Xt))
        out = outputs[column]
        for r in range(n_repeats):
            generator.shuffle(order)
            permuted[:, out] = permuted[order, out]
            drops[j, r] = baseline - auc(permuted)
    return drops.mean(axis=1), drops.std(axis=1)


def _one_column_each(columns: ColumnTransformer, inputs: list[str]) -> bool:
    read = [cols for name, _, cols in columns.transformers_ if name != "remainder"]
    remainder = [t for name, t, _ in columns.transformers_ if name == "remainder"]
    return (
        all(isinstance(cols, list) and len(cols) == 1 for cols in read)
        and sorted(c[0] for c in read) == sorted(inputs)
        and all(t == "drop" for t in remainder)
    )


def risk_band(probability: pl.Expr) -> pl.Expr:
    expr = pl.lit("low")
    for cut, name in reversed(RISK_BANDS[:-1]):
        expr = pl.when(probability >= cut).then(pl.lit(name)).otherwise(expr)
    return expr


def score_customers(current: pl.DataFrame, model: Pipeline, columns: list[str]) -> pl.DataFrame:
    proba = model.predict_proba(to_pandas_inputs(current, columns))[:, 1]
    return (
        current.select("customer_id", "plan_type", "cutoff_date")
        .with_columns(pl.Series("churn_probability", proba).round(5))
        .with_columns(risk_band(pl.col("churn_probability")).alias("risk_band"))
    )


SEGMENT_FEATURES = {
    "recency_days": "recent activity",
    "order_count": "purchase frequency",
    "total_value": "value",
    "feature_usage_count": "product usage",
    "distinct_features_used": "feature breadth",
}


# The customer_profiles columns segment_customers reads (the segments step reads only these).
SEGMENT_INPUTS = [
    "customer_id",
    "as_of_date",
    "last_activity_date",
    "account_created_date",
    *[c for c in SEGMENT_FEATURES if c != "recency_days"],
]


def _level(z: float) -> str:
    return "high" if z > 0.5 else "low" if z < -0.5 else "average"


def describe_centroid(z: dict[str, float]) -> str:
    """Plain words for a centroid in standard units, strongest traits first.

    Recency is inverted for reading: few days since the last activity is *high* recent activity.
    A centroid with no trait half a standard deviation out is named by its two largest
    deviations, "slightly" high or low: a flat "average on every trait" hid that such a segment
    can hold half the median customer's value.
    """
    traits = []
    for feature, label in SEGMENT_FEATURES.items():
        value = -z[feature] if feature == "recency_days" else z[feature]
        traits.append((abs(value), value, label))
    traits.sort(key=lambda t: -t[0])
    strong = [f"{_level(value)} {label}" for size, value, label in traits if size > 0.5][:3]
    if strong:
        return ", ".join(strong)
    slight = [
        f"slightly {'high' if value > 0 else 'low'} {label}"
        for size, value, label in traits[:2]
        if size > 0.05
    ]
    return ", ".join(slight) or "average on every trait"


def segment_customers(
    profiles: pl.LazyFrame | pl.DataFrame,
    k_range: range = range(3, 7),
    sample: int = 5000,
    *,
    fit_rows: int | None = None,
    batch_rows: int | None = None,
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """KMeans on log-scaled RFM and engagement; k chosen by silhouette on a fixed sample.

    ``fit_rows``: the scaler and the k candidates are fitted on at most about this many
    customers (``fit_sample``'s fixed sample by customer id), and every customer is then
    assigned to the nearest centre ``batch_rows`` at a time. Four KMeans fits on 2.5M customers
    held the scaled array, its copy in each fit and four label arrays (the step at `xl` ~1.5x
    its `large` peak). With every customer in the fit, the labels are the fit's own.
    """
    lf = profiles.lazy().with_columns(
        (
            pl.col("as_of_date")
            - pl.col("last_activity_date").fill_null(pl.col("account_created_date"))
        )
        .dt.total_days()
        .alias("recency_days")
    )
    cols = list(SEGMENT_FEATURES)
    frame, total = (
        fit_sample(lf, fit_rows) if fit_rows else (lf.sort("customer_id").collect(), None)
    )
    n_fit = frame.height
    X = log_features(frame, cols)
    scaler = StandardScaler().fit(X)
    Z = scaler.transform(X)
    del X
    rng = np.random.default_rng(SEED)
    idx = rng.choice(len(Z), size=min(sample, len(Z)), replace=False)
    scores, fits = {}, {}
    for k in k_range:
        if k >= len(Z):
            break
        fits[k] = KMeans(n_clusters=k, random_state=SEED).fit(Z)
        scores[k] = float(silhouette_score(Z[idx], fits[k].labels_[idx]))
    best = max(scores, key=lambda k: scores[k])
    # The chosen k's fit is kept, not refitted (the same seed gave the same model again), and
    # its labels_ are what predict(Z) returns: fit ends by assigning every row to the final
    # centres.
    km = fits[best]
    names = {}
    centroids = []
    for i, center in enumerate(km.cluster_centers_):
        z = dict(zip(cols, center.tolist(), strict=True))
        names[i] = describe_centroid(z)
        raw = np.expm1(scaler.inverse_transform(center.reshape(1, -1))[0])
        centroids.append(
            {
                "segment": i,
                "description": names[i],
                **{c: round(float(v), 2) for c, v in zip(cols, raw, strict=True)},
            }
        )
    del Z, fits

    def labelled(part: pl.DataFrame, labels: np.ndarray) -> pl.DataFrame:
        return (
            part.select("customer_id", *cols)
            .with_columns(pl.Series("segment", np.asarray(labels, dtype=np.int64)))
            .with_columns(
                pl.col("segment")
                .replace_strict(names, return_dtype=pl.String)
                .alias("segment_description")
            )
        )

    if total is None or frame.height == total:
        out = labelled(frame, km.labels_)
    else:
        del frame
        step = batch_rows or total
        parts = []
        for start in range(0, total, step):
            part = lf.slice(start, step).collect()
            parts.append(labelled(part, km.predict(scaler.transform(log_features(part, cols)))))
        out = pl.concat(parts)
    info = {"k": best, "silhouette": scores, "centroids": centroids, "fit_rows": n_fit}
    return out, info
