"""Quality metrics and the validated/quarantined split of flagged rows."""

import tempfile
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal

from assets.validation.flagging import flag_rows
from assets.validation.gates import gates
from assets.validation.outliers import flag_outliers, outlier_fences
from assets.validation.quality import measure, outcome_tables, quarantined_rows, valid_rows
from assets.validation.rules import EXACT_DUP, OUTLIERS, RULES
from tests.assets.validation.rows import SPEC, TODAY, flag, frame


def test_exact_duplicates_are_removed_not_quarantined_and_repeated_keys_are():
    flagged = flag(frame({"id": "x"}, {"id": "x"}, {"id": "x", "qty": 4}))
    assert flagged[EXACT_DUP].to_list() == [False, True, False]
    assert flagged[RULES].to_list() == [[], [], ["unique:id"]]
    assert valid_rows(flagged.lazy()).collect()["id"].to_list() == ["x"]
    q = quarantined_rows(flagged.lazy()).collect()
    assert q["_rules"].to_list() == [["unique:id"]] and q["qty"].to_list() == [4]


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
