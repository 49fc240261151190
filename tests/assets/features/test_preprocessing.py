"""Preprocessing choices, capping, and the fitted artifact that analytics reuses."""

import numpy as np
import polars as pl
import pytest

from assets.features.preprocessing import (
    OutlierCapper,
    PreprocessingOptions,
    build_preprocessor,
    to_pandas_inputs,
)

FRAME = pl.DataFrame(
    {
        "skewed": [1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 100.0, None],
        "even": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0],
        "plan": ["a", "b", "a", "b", "a", None, "b", "a"],
        "city": [f"c{i}" for i in range(8)],
    }
)


def test_auto_choices_are_recorded():
    _, choices = build_preprocessor(FRAME, ["skewed", "even"], ["plan"], PreprocessingOptions())
    assert choices["numeric"]["skewed"]["impute"] == "median"
    assert choices["numeric"]["even"]["impute"] == "mean"
    assert choices["categorical"]["plan"]["encoding"] == "onehot"


def test_auto_encoding_switches_to_target_above_ten_categories():
    frame = pl.DataFrame({"city": [f"c{i % 12}" for i in range(48)]})
    _, choices = build_preprocessor(frame, [], ["city"], PreprocessingOptions())
    assert choices["categorical"]["city"]["encoding"] == "target"


def test_outliers_are_capped_not_removed():
    capper = OutlierCapper("iqr").fit(np.array([[1.0], [2.0], [3.0], [4.0], [100.0]]))
    out = capper.transform(np.array([[100.0], [2.0]]))
    assert out.shape == (2, 1) and out[0, 0] == pytest.approx(4 + 1.5 * 2) and out[1, 0] == 2.0


@pytest.mark.parametrize("scaling", ["robust", "standard", "minmax", "none"])
def test_pipeline_fits_and_transforms_without_missing_values(scaling):
    opts = PreprocessingOptions(scaling_method=scaling, outlier_method="zscore")
    pipe, _ = build_preprocessor(FRAME, ["skewed", "even"], ["plan"], opts)
    X = to_pandas_inputs(FRAME, ["skewed", "even", "plan"])
    out = pipe.fit_transform(X, np.array([0, 1, 0, 1, 0, 1, 0, 1]))
    assert out.shape == (8, 4) and not np.isnan(out).any()
    assert list(pipe.get_feature_names_out()) == ["skewed", "even", "plan_a", "plan_b"]
