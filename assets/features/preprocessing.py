"""The scikit-learn preprocessing that every model reuses, built from four documented options.

- ``missing_value_strategy``: auto | drop | mean | median | mode. ``auto`` picks per numeric
  column: the median when |skew| > 1, else the mean; categorical columns always use the mode.
  ``drop`` leaves rows with missing values to be dropped before fitting and scoring.
- ``outlier_method``: iqr | zscore | none. Outliers are capped at the learned bounds, not removed.
- ``encoding_strategy``: auto | onehot | ordinal | target. ``auto`` uses one-hot up to 10
  categories and target encoding above.
- ``scaling_method``: robust | standard | minmax | none.

``build_preprocessor`` returns the unfitted ``Pipeline`` and a record of every choice it made.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import polars as pl
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    MinMaxScaler,
    OneHotEncoder,
    OrdinalEncoder,
    RobustScaler,
    StandardScaler,
    TargetEncoder,
)

MissingStrategy = Literal["auto", "drop", "mean", "median", "mode"]
OutlierMethod = Literal["iqr", "zscore", "none"]
EncodingStrategy = Literal["auto", "onehot", "ordinal", "target"]
ScalingMethod = Literal["robust", "standard", "minmax", "none"]
ONEHOT_MAX_CATEGORIES = 10


@dataclass(frozen=True)
class PreprocessingOptions:
    missing_value_strategy: MissingStrategy = "auto"
    outlier_method: OutlierMethod = "iqr"
    encoding_strategy: EncodingStrategy = "auto"
    scaling_method: ScalingMethod = "robust"


class OutlierCapper(BaseEstimator, TransformerMixin):
    """Learns per-column bounds (IQR fences or mean +- k std) and clips values to them."""

    def __init__(self, method: OutlierMethod = "iqr", k: float = 1.5, z: float = 3.0) -> None:
        self.method = method
        self.k = k
        self.z = z

    def fit(self, X: Any, y: Any = None) -> OutlierCapper:
        arr = np.asarray(X, dtype=float)
        if self.method == "iqr":
            q1, q3 = np.nanpercentile(arr, 25, axis=0), np.nanpercentile(arr, 75, axis=0)
            self.lower_, self.upper_ = q1 - self.k * (q3 - q1), q3 + self.k * (q3 - q1)
        elif self.method == "zscore":
            mean, std = np.nanmean(arr, axis=0), np.nanstd(arr, axis=0)
            self.lower_, self.upper_ = mean - self.z * std, mean + self.z * std
        else:
            self.lower_ = np.full(arr.shape[1], -np.inf)
            self.upper_ = np.full(arr.shape[1], np.inf)
        return self

    def transform(self, X: Any) -> np.ndarray:
        return np.clip(np.asarray(X, dtype=float), self.lower_, self.upper_)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(input_features, dtype=object)


def _scaler(method: ScalingMethod) -> Any:
    return {
        "robust": RobustScaler(),
        "standard": StandardScaler(),
        "minmax": MinMaxScaler(),
        "none": "passthrough",
    }[method]


def build_preprocessor(
    frame: pl.DataFrame, numeric: list[str], categorical: list[str], options: PreprocessingOptions
) -> tuple[Pipeline, dict[str, Any]]:
    """The unfitted pipeline for these columns, and the choice made for each."""
    choices: dict[str, Any] = {"options": options.__dict__.copy(), "numeric": {}, "categorical": {}}
    transformers = []
    for col in numeric:
        values = frame[col].drop_nulls().cast(pl.Float64)
        skew = float(values.skew() or 0.0) if values.len() > 2 else 0.0
        strategy = options.missing_value_strategy
        if strategy == "auto":
            strategy = "median" if abs(skew) > 1 else "mean"
        elif strategy in ("mode", "drop"):
            strategy = "most_frequent" if strategy == "mode" else "median"
        steps = [
            ("impute", SimpleImputer(strategy=strategy)),
            ("cap", OutlierCapper(method=options.outlier_method)),
            ("scale", _scaler(options.scaling_method)),
        ]
        transformers.append((f"num_{col}", Pipeline(steps), [col]))
        choices["numeric"][col] = {
            "impute": strategy,
            "skew": round(skew, 3),
            "outliers": options.outlier_method,
            "scaling": options.scaling_method,
        }
    for col in categorical:
        cardinality = frame[col].n_unique()
        encoding = options.encoding_strategy
        if encoding == "auto":
            encoding = "onehot" if cardinality <= ONEHOT_MAX_CATEGORIES else "target"
        encoder: Any = {
            "onehot": OneHotEncoder(handle_unknown="ignore", sparse_output=False),
            "ordinal": OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
            # Deterministic cross-fitting (set_params: the stubs mistype the constructor).
            "target": TargetEncoder().set_params(shuffle=False),
        }[encoding]
        steps = [("impute", SimpleImputer(strategy="most_frequent")), ("encode", encoder)]
        transformers.append((f"cat_{col}", Pipeline(steps), [col]))
        choices["categorical"][col] = {
            "impute": "most_frequent",
            "encoding": encoding,
            "cardinality": cardinality,
        }
    pipeline = Pipeline(
        [("columns", ColumnTransformer(transformers, verbose_feature_names_out=False))]
    )
    return pipeline, choices


def to_pandas_inputs(frame: pl.DataFrame, columns: list[str]) -> pd.DataFrame:
    """scikit-learn takes pandas at its boundary; conversion happens once, here."""
    return frame.select(columns).to_pandas()


@dataclass(frozen=True)
class FittedPreprocessor:
    pipeline: Pipeline
    choices: dict[str, Any]
    fit_rows: int
    output_features: list[str]


def fit_preprocessor(
    train: pl.DataFrame,
    numeric: list[str],
    categorical: list[str],
    target: str,
    options: PreprocessingOptions,
) -> FittedPreprocessor:
    """The preprocessing for these columns fitted on ``train`` (``target`` feeds the target
    encoder); under ``drop``, rows missing any input are left out of the fit."""
    if options.missing_value_strategy == "drop":
        train = train.drop_nulls([*numeric, *categorical])
    pipeline, choices = build_preprocessor(train, numeric, categorical, options)
    pipeline.fit(
        to_pandas_inputs(train, [*numeric, *categorical]), train[target].cast(pl.Int8).to_numpy()
    )
    names_out = pipeline.get_feature_names_out()
    names = [str(n) for n in (names_out if names_out is not None else [])]
    return FittedPreprocessor(pipeline, choices, train.height, names)


def numeric_choices(choices: dict[str, Any]) -> pl.DataFrame:
    """One row per numeric column with the choices made for it, as text (for a preview)."""
    return pl.DataFrame(
        [
            {"column": c, **{k: str(v) for k, v in spec.items()}}
            for c, spec in choices["numeric"].items()
        ]
    )
