"""Each rule, metric and history function on small hand-built frames."""

import tempfile
from datetime import date, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

import assets.validation.rules as rules_mod
from assets.core.spec import DatasetSpec
from assets.validation.history import metric_anomalies, schema_drift
from assets.validation.quality import (
    gate_failures,
    gates,
    measure,
    outcome_tables,
    quarantined_rows,
    valid_rows,
)
from assets.validation.rules import (
    EXACT_DUP,
    FIXES,
    OUTLIERS,
    REASONS,
    ROW_ID,
    RULES,
    duplicates_and_repeats,
    flag_outliers,
    flag_rows,
    names_where,
    outlier_fences,
    repeat_ids,
    trusted_reference,
)

TODAY = date(2026, 1, 1)

SPEC = DatasetSpec.model_validate(
    {
        "name": "items",
        "key": ["id"],
        "columns": [
            {"name": "id", "type": "string", "required": True, "unique": True},
            {"name": "qty", "type": "integer", "required": True, "min": 1, "max": 10},
            {"name": "kind", "type": "string", "allowed": ["a", "b"]},
            {"name": "email", "type": "string", "pattern": "email"},
            {"name": "born", "type": "date", "max": "today"},
            {"name": "opened", "type": "datetime"},
            {"name": "closed", "type": "datetime"},
            {"name": "parent_id", "type": "string"},
            {"name": "price", "type": "float"},
        ],
        "foreign_keys": [
            {"columns": ["parent_id"], "references": "parents", "ref_columns": ["pid"]}
        ],
        "rules": [
            {
                "kind": "compare",
                "name": "closed_after_opened",
                "left": "closed",
                "op": ">=",
                "right": "opened",
            },
            {
                "kind": "lookup_compare",
                "name": "price_within_cap",
                "left": "price",
                "op": "<=",
                "via": "parent_id",
                "references": "parents",
                "ref_key": "pid",
                "ref_column": "cap",
                "factor": 2.0,
            },
        ],
        "outliers": {"columns": ["price"], "method": "iqr", "iqr_k": 1.5},
    }
)
PARENT = DatasetSpec.model_validate(
    {
        "name": "parents",
        "key": ["pid"],
        "columns": [{"name": "pid", "required": True}, {"name": "cap", "type": "float", "min": 0}],
    }
)
PARENTS = pl.LazyFrame(
    {"pid": ["P1", "P2", "P3"], "cap": [10.0, 5.0, -1.0], "_ingest_errors": [None, None, None]},
    schema_overrides={"_ingest_errors": pl.String},
)

GOOD = {
    "id": "ok",
    "qty": 3,
    "kind": "a",
    "email": "a.b@c.io",
    "born": date(1990, 1, 1),
    "opened": datetime(2025, 1, 1),
    "closed": datetime(2025, 1, 2),
    "parent_id": "P1",
    "price": 10.0,
    "_ingest_errors": None,
    "_source_file": "f",
    "_file_sha256": "h",
    "_row_number": 1,
}


def frame(*changes: dict) -> pl.LazyFrame:
    rows = [{**GOOD, "id": f"r{i}", **ch} for i, ch in enumerate(changes)]
    schema = {
        "id": pl.String,
        "qty": pl.Int64,
        "kind": pl.String,
        "email": pl.String,
        "born": pl.Date,
        "opened": pl.Datetime("us"),
        "closed": pl.Datetime("us"),
        "parent_id": pl.String,
        "price": pl.Float64,
        "_ingest_errors": pl.String,
        "_source_file": pl.String,
        "_file_sha256": pl.String,
        "_row_number": pl.Int64,
    }
    return pl.LazyFrame(rows, schema=schema)


def flag(lf: pl.LazyFrame, auto_fix: bool = False) -> pl.DataFrame:
    """Flag through every path: one lazy query, and staged through a scratch file as the
    validation asset does, with the passing rows picked by the failing rows' ids or (too many
    failures to hold their ids) by evaluating the rules again. They must agree row for row."""
    lookups = {"parents": trusted_reference(PARENTS, PARENT, "cap", TODAY)}
    kwargs = dict(parent_keys={"parents": PARENTS}, lookups=lookups, today=TODAY, auto_fix=auto_fix)
    lazy = flag_rows(lf, SPEC, **kwargs).rows().collect()  # type: ignore[arg-type]
    limit = rules_mod.MAX_FAILING_IDS
    for max_ids in (limit, 0):
        rules_mod.MAX_FAILING_IDS = max_ids
        try:
            with tempfile.TemporaryDirectory() as tmp:
                scratch = Path(tmp) / "outcomes.parquet"
                staged = flag_rows(lf, SPEC, scratch=scratch, **kwargs).rows().collect()  # type: ignore[arg-type]
        finally:
            rules_mod.MAX_FAILING_IDS = limit
        assert_frame_equal(staged, lazy)
    return lazy


def rules_of(changes: dict) -> list[str]:
    return flag(frame({}, changes))[RULES].to_list()[1]


@pytest.mark.parametrize(
    ("change", "rule", "reason"),
    [
        (
            {"qty": None, "_ingest_errors": '{"qty": "N/A"}'},
            "type:qty",
            "qty is not a valid integer: 'N/A'",
        ),
        ({"qty": None}, "required:qty", "qty is required but missing"),
        ({"qty": 0}, "range:qty", "qty 0 is below the minimum 1"),
        ({"qty": 11}, "range:qty", "qty 11 is above the maximum 10"),
        ({"born": date(2030, 5, 1)}, "range:born", "born 2030-05-01 is above the maximum today"),
        ({"kind": "z"}, "allowed:kind", "kind 'z' is not one of a, b"),
        ({"email": "a.b at c.io"}, "pattern:email", "email 'a.b at c.io' does not look like email"),
        ({"parent_id": "P9"}, "fk:parent_id->parents", "parent_id 'P9' has no match in parents"),
        (
            {"closed": datetime(2024, 12, 31)},
            "rule:closed_after_opened",
            "closed_after_opened: closed",
        ),
        (
            {"price": 20.5},
            "rule:price_within_cap",
            "price_within_cap: price 20.5 is not <= parents.cap x 2 (20.0)",
        ),
    ],
)
def test_each_rule_flags_its_row_with_a_readable_reason(change, rule, reason):
    flagged = flag(frame({}, change))
    assert flagged[RULES].to_list() == [[], [rule]]
    assert flagged[REASONS][1][0].startswith(reason)


def test_nulls_pass_optional_and_cross_field_rules():
    assert (
        rules_of({"kind": None, "email": None, "closed": None, "parent_id": None, "price": None})
        == []
    )


def test_lookup_ignores_an_invalid_parent_value():
    # P3's cap is -1, itself invalid (min 0): the child is not blamed for it.
    assert rules_of({"parent_id": "P3", "price": 1000.0}) == []


def test_exact_duplicates_are_removed_not_quarantined_and_repeated_keys_are():
    flagged = flag(frame({"id": "x"}, {"id": "x"}, {"id": "x", "qty": 4}))
    assert flagged[EXACT_DUP].to_list() == [False, True, False]
    assert flagged[RULES].to_list() == [[], [], ["unique:id"]]
    assert valid_rows(flagged.lazy()).collect()["id"].to_list() == ["x"]
    q = quarantined_rows(flagged.lazy()).collect()
    assert q["_rules"].to_list() == ["unique:id"] and q["qty"].to_list() == [4]


def test_repeat_ids_are_the_later_rows_of_equal_values_in_row_order():
    # Many repeats, nulls and two columns: the hashed search must give exactly what comparing
    # the values row by row gives (the first occurrence is never a repeat).
    n = 5_000
    lf = pl.LazyFrame(
        {
            "a": [None if i % 97 == 0 else i % 300 for i in range(n)],
            "b": [f"x{(i * 7) % 11}" for i in range(n)],
        }
    ).with_row_index(ROW_ID)
    full = lf.collect()
    expected = full.filter(~pl.struct("a", "b").is_first_distinct())[ROW_ID]
    got = repeat_ids(lf, ["a", "b"])
    assert got.to_list() == expected.to_list()
    assert 0 < got.len() < n
    # Searched in hash buckets through a scratch folder (as the asset does): the same rows.
    with tempfile.TemporaryDirectory() as tmp:
        bucketed = repeat_ids(lf, ["a", "b"], scratch_dir=Path(tmp), bucket_rows=700)
        assert not list(Path(tmp).iterdir())  # the hash file is removed
    assert bucketed.to_list() == expected.to_list()

    # present_only: a row with a null is never a repeat; skip: those rows are left out.
    present = full.filter(pl.col("a").is_not_null())
    expected = present.filter(~pl.col("a").is_first_distinct())[ROW_ID]
    assert repeat_ids(lf, ["a"], present_only=True).to_list() == expected.to_list()
    skip = pl.Series(ROW_ID, [1, 2], dtype=full.schema[ROW_ID])  # a=1 and a=2 first seen here
    kept = present.filter(~pl.col(ROW_ID).is_in([1, 2]))
    expected = kept.filter(~pl.col("a").is_first_distinct())[ROW_ID]
    assert repeat_ids(lf, ["a"], skip=skip, present_only=True).to_list() == expected.to_list()


@pytest.mark.parametrize("null_keys", [True, False], ids=["null-keys", "no-null-key"])
@pytest.mark.parametrize("max_candidates", [1_000_000, 10], ids=["one-search", "fallback"])
def test_one_key_search_finds_what_separate_searches_find(max_candidates, null_keys):
    # Exact duplicates (with and without a key), repeated keys, a second unique column and
    # null keys: the single search of the key's hash must give the same rows as searching the
    # whole rows and each group on their own (and so must its fallback for keys that repeat
    # too often to compare at once). Without null keys, the whole-row hashes are skipped.
    n = 4_000
    lf = pl.LazyFrame(
        {
            "id": [None if null_keys and i % 500 == 0 else f"k{i % 1_000}" for i in range(n)],
            "email": [None if i % 7 == 0 else f"e{i % 1_000}" for i in range(n)],
            "v": [(i // 1_000) % 2 for i in range(n)],
        }
    ).with_row_index(ROW_ID)
    payload, groups = ["id", "email", "v"], [["id"], ["email"]]
    duplicates = repeat_ids(lf, payload)
    expected = [repeat_ids(lf, g, skip=duplicates, present_only=True) for g in groups]
    assert duplicates.len() > 0 and all(e.len() > 0 for e in expected)
    dup_keys = lf.collect().filter(pl.col(ROW_ID).is_in(duplicates.implode()))["id"]
    if null_keys:  # exact duplicates with and without a key
        assert 0 < dup_keys.null_count() < dup_keys.len()
    with tempfile.TemporaryDirectory() as tmp:
        got, repeats = duplicates_and_repeats(
            lf,
            payload,
            groups,
            scratch_dir=Path(tmp),
            bucket_rows=900,
            max_candidates=max_candidates,
        )
    assert got.to_list() == duplicates.to_list()
    assert [r.to_list() for r in repeats] == [e.to_list() for e in expected]
    # Without any unique group, only exact duplicates are searched.
    alone, none = duplicates_and_repeats(lf, payload, [])
    assert alone.to_list() == duplicates.to_list() and none == []


def test_metrics_match_hand_computation():
    flagged = flag(frame({}, {}, {"qty": None}, {"kind": "z"}, {"parent_id": "P9"}, {}))
    report = measure(flagged.lazy(), SPEC)
    # 6 rows; one with a missing qty, one bad kind, one orphan.
    assert report.rows_checked == 6 and report.valid_rows == 3 and report.quarantined_rows == 3
    assert report.completeness["qty"] == pytest.approx(5 / 6, abs=1e-6)
    assert report.validity == pytest.approx(4 / 6, abs=1e-6)
    assert report.consistency == pytest.approx(5 / 6, abs=1e-6)
    assert report.referential["parent_id->parents"] == pytest.approx(5 / 6, abs=1e-6)
    expected = 30 * 4 / 6 + 25 * (1 + 5 / 6) / 2 + 20 * 1.0 + 25 * 5 / 6
    assert report.overall_score == pytest.approx(expected, abs=1e-3)
    by_name = {g.name: g for g in gates(report, SPEC)}
    assert not by_name["items_required_fields_complete"].passed  # 0.83 < 0.95
    assert by_name["items_keys_unique"].passed
    assert not by_name["items_reference_parents"].passed


def test_gate_failures_count_each_row_once_and_sample_its_key():
    flagged = flag(
        frame(
            {},
            {"qty": None},
            {"qty": None, "kind": "z"},  # two column rules, one row
            {"parent_id": "P9"},
            {"parent_id": "P9", "id": "r3"},  # an exact duplicate of r3: removed, not counted
            {},
        )
    )
    report = measure(flagged.lazy(), SPEC)
    found = gate_failures(flagged.lazy(), SPEC, gates(report, SPEC))
    assert found == {
        "items_required_fields_complete": (2, ["r1", "r2"]),
        "items_keys_unique": (0, []),
        "items_validity_at_least_threshold": (2, ["r1", "r2"]),
        "items_quality_score_at_least_threshold": (3, ["r1", "r2", "r3"]),
        "items_reference_parents": (1, ["r3"]),
    }
    # The sample is capped; the count is not.
    capped = gate_failures(flagged.lazy(), SPEC, gates(report, SPEC), n=1)
    assert capped["items_quality_score_at_least_threshold"] == (3, ["r1"])


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


@pytest.mark.parametrize(
    ("action", "cap"), [("flag", False), ("quarantine", False), ("quarantine", True)]
)
def test_outcome_tables_read_the_parts_and_match_the_split_of_every_row(action, cap):
    spec = SPEC.model_copy(update={"outliers": SPEC.outliers.model_copy(update={"action": action})})
    prices = [10.0, 11.0, 12.0, 13.0, 14.0, 500.0]
    lf = frame(
        *[{"price": p, "parent_id": None} for p in prices],
        {"price": 900.0, "qty": 0, "parent_id": None},
        {"price": 12.0, "email": "nope", "parent_id": None},
    )
    with tempfile.TemporaryDirectory() as tmp:
        parts = flag_rows(
            lf, spec, parent_keys={}, lookups={}, today=TODAY, scratch=Path(tmp) / "o.parquet"
        )
        fences = outlier_fences(parts.passing, spec)
        parts = parts.map(lambda part: flag_outliers(part, spec, fences, cap=cap))
        good, bad = (t.collect() for t in outcome_tables(parts, spec, cap=cap))
        everything = parts.rows()
        assert_frame_equal(good, valid_rows(everything).collect())
        assert_frame_equal(bad, quarantined_rows(everything).drop(OUTLIERS).collect())
    moved = action == "quarantine" and not cap
    assert bad["id"].to_list() == (["r5", "r6", "r7"] if moved else ["r6", "r7"])
    assert ("r5" in good["id"].to_list()) is not moved


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


def test_auto_fix_imputes_required_values_and_caps_outliers():
    lf = frame(
        {"qty": 2},
        {"qty": 4},
        {"qty": None, "_ingest_errors": '{"qty": "N/A"}'},
        *[{"price": p, "parent_id": None} for p in [10.0, 11.0, 12.0, 13.0, 500.0]],
    )
    flagged = flag(lf, auto_fix=True)
    assert flagged[RULES].to_list()[2] == []  # imputed, so no longer failing
    assert flagged["qty"][2] == 3  # the median of the valid quantities
    assert flagged[FIXES].to_list()[2] == ["imputed:qty"]
    assert flagged["_ingest_errors"][2] is None
    capped = flag_outliers(
        flagged.lazy(), SPEC, outlier_fences(flagged.lazy(), SPEC), cap=True
    ).collect()
    assert capped["price"][-1] < 500.0 and "capped:price" in capped[FIXES][-1]


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


@pytest.mark.parametrize("count", [0, 1, 3])
def test_names_where_lists_the_names_whose_condition_holds_in_order(count):
    frame = pl.DataFrame(
        {
            "a": [True, False, None, True, False],
            "b": [True, True, False, None, False],
            "c": [False, True, True, None, False],
        }
    )
    pairs = [(pl.col(c), f"x:{c}") for c in "abc"][:count]
    got = frame.with_columns(names_where(pairs).alias("n"))["n"].to_list()
    want = [[f"x:{c}" for c in "abc"[:count] if row[c]] for row in frame.iter_rows(named=True)]
    assert got == want


def test_fences_of_many_rows_come_from_every_kth_row(monkeypatch):
    """Beyond FENCE_SAMPLE_ROWS the quantiles (which hold the column) read every k-th row by
    row id: the fences of a sample, close to the whole's and the same on every run."""
    n = 20_000
    values = np.random.default_rng(4).lognormal(3, 0.5, n)
    flagged = pl.LazyFrame(
        {
            rules_mod.ROW_ID: pl.int_range(n, eager=True, dtype=pl.UInt32),
            "price": values,
            rules_mod.EXACT_DUP: [False] * n,
            rules_mod.RULES: [[]] * n,
        },
        schema_overrides={rules_mod.RULES: pl.List(pl.String)},
    )
    whole = outlier_fences(flagged, SPEC, rows=n)["price"]
    monkeypatch.setattr(rules_mod, "FENCE_SAMPLE_ROWS", 2_000)
    sampled = outlier_fences(flagged, SPEC, rows=n)["price"]
    assert sampled != whole
    assert sampled["q1"] == pytest.approx(np.quantile(values[::10], 0.25))
    assert sampled["q3"] == pytest.approx(whole["q3"], rel=0.05)
