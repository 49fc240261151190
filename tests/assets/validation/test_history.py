"""Quality history: anomalies against a metric's own past, and schema drift."""

import polars as pl

from assets.validation.history import metric_anomalies, schema_drift


def test_history_anomaly_uses_median_absolute_deviation():
    history = pl.DataFrame(
        {"metric": ["validity"] * 6, "value": [0.99, 0.991, 0.989, 0.99, 0.992, 0.99]}
    )
    assert metric_anomalies(history, {"validity": 0.9905}) == []
    [hit] = metric_anomalies(history, {"validity": 0.90})
    assert hit["metric"] == "validity" and hit["robust_z"] < -3.5
    assert metric_anomalies(history.head(3), {"validity": 0.5}) == []  # too little history


def test_schema_drift_reports_added_removed_and_retyped():
    drift = schema_drift({"a": "Int64", "b": "String"}, {"a": "Float64", "c": "String"})
    assert drift == {"added": ["c"], "removed": ["b"], "retyped": ["a: Int64 -> Float64"]}
    assert schema_drift(None, {"a": "Int64"}) == {"added": [], "removed": [], "retyped": []}
