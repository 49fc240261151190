"""Outlier fences, flags and caps on small hand-built rows."""

import numpy as np
import polars as pl
import pytest

import assets.validation.outliers as outliers_mod
from assets.validation.flagging import flag_rows
from assets.validation.outliers import flag_outliers, outlier_fences
from assets.validation.repeats import ROW_ID
from assets.validation.rules import EXACT_DUP, OUTLIERS, RULES
from tests.assets.validation.rows import SPEC, TODAY, flag, frame


def test_outliers_by_iqr_are_flagged_on_clean_rows_only():
    prices = [10.0, 11.0, 12.0, 13.0, 14.0, 500.0]
    lf = frame(
        *[{"price": p, "parent_id": None} for p in prices],
        {"price": 900.0, "qty": 0, "parent_id": None},
    )
    flagged = flag(lf)
    fences = outlier_fences(flagged.lazy(), SPEC)
    out = flag_outliers(flagged.lazy(), SPEC, fences, cap=False).collect()
    assert out[OUTLIERS].to_list() == [[], [], [], [], [], ["outlier:price"], []]
    assert out[RULES].to_list()[-1] == ["range:qty"]  # quarantined already, not an outlier


def test_zscore_method():
    spec = SPEC.model_copy(
        update={
            "outliers": SPEC.outliers.model_copy(update={"method": "zscore", "z_threshold": 2.0})
        }
    )
    values = [10.0] * 20 + [11.0] * 20 + [40.0]
    lf = frame(*[{"price": v, "parent_id": None} for v in values])
    flagged = flag_rows(lf, spec, parent_keys={}, lookups={}, today=TODAY).rows().collect()
    out = flag_outliers(
        flagged.lazy(), spec, outlier_fences(flagged.lazy(), spec), cap=False
    ).collect()
    assert out[OUTLIERS].list.len().to_list() == [0] * 40 + [1]


def test_fences_of_many_rows_come_from_every_kth_row(monkeypatch):
    """Beyond FENCE_SAMPLE_ROWS the quantiles (which hold the column) read every k-th row by
    row id: the fences of a sample, close to the whole's and the same on every run."""
    n = 20_000
    values = np.random.default_rng(4).lognormal(3, 0.5, n)
    flagged = pl.LazyFrame(
        {
            ROW_ID: pl.int_range(n, eager=True, dtype=pl.UInt32),
            "price": values,
            EXACT_DUP: [False] * n,
            RULES: [[]] * n,
        },
        schema_overrides={RULES: pl.List(pl.String)},
    )
    whole = outlier_fences(flagged, SPEC, rows=n)["price"]
    monkeypatch.setattr(outliers_mod, "FENCE_SAMPLE_ROWS", 2_000)
    sampled = outlier_fences(flagged, SPEC, rows=n)["price"]
    assert sampled != whole
    assert sampled["q1"] == pytest.approx(np.quantile(values[::10], 0.25))
    assert sampled["q3"] == pytest.approx(whole["q3"], rel=0.05)
