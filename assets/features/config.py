"""Run configuration of the feature assets (Dagster ``Config``: shown in the launchpad)."""

from __future__ import annotations

from datetime import date
from typing import Literal

import dagster as dg
from pydantic import Field, field_validator


class ChurnFeatureConfig(dg.Config):
    """When churn features are measured and how far ahead the label looks."""

    horizon_days: int = Field(
        default=60,
        ge=7,
        le=365,
        description="Churned = no activity in this many days after the cutoff.",
    )
    cutoff_date: str | None = Field(
        default=None,
        description="ISO date of the training cutoff; default: latest activity minus the horizon.",
    )

    @field_validator("cutoff_date")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            date.fromisoformat(v)
        return v


class PreprocessingConfig(dg.Config):
    """The preprocessing every model reuses (see assets/features/preprocessing.py)."""

    missing_value_strategy: Literal["auto", "drop", "mean", "median", "mode"] = Field(
        default="auto", description="auto picks the median for skewed numbers, else the mean."
    )
    outlier_method: Literal["iqr", "zscore", "none"] = Field(
        default="iqr", description="Outliers are capped at the learned bounds, not removed."
    )
    encoding_strategy: Literal["auto", "onehot", "ordinal", "target"] = Field(
        default="auto", description="auto: one-hot up to 10 categories, target encoding above."
    )
    scaling_method: Literal["robust", "standard", "minmax", "none"] = Field(default="robust")


# The ``dg.Config`` class of each feature op that takes one, by op name (launch-time check).
FEATURE_CONFIG_CLASSES: dict[str, type[dg.Config]] = {
    "churn_features": ChurnFeatureConfig,
    "churn_preprocessor": PreprocessingConfig,
}
