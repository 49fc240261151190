"""Gates: the rows each one counts as failing, and a sample of their keys."""

from assets.validation.gates import gate_descriptions, gate_failures, gates
from assets.validation.quality import measure
from tests.assets.validation.rows import SPEC, flag, frame


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


def test_only_a_measured_gate_names_the_least_complete_field():
    # The check's description in the UI (spec time) states the threshold only; the result of a
    # run names the column that was measured least complete, with its share.
    spec_time = gate_descriptions(SPEC)["items_required_fields_complete"]
    assert spec_time == "Every required field is at least 95% complete."
    report = measure(flag(frame({}, {"qty": None}, {}, {})).lazy(), SPEC)
    by_name = {g.name: g for g in gates(report, SPEC)}
    measured = by_name["items_required_fields_complete"].description
    assert (
        measured == "Every required field is at least 95% complete (least complete: qty, 75.00%)."
    )
    complete = measure(flag(frame({}, {})).lazy(), SPEC)
    by_name = {g.name: g for g in gates(complete, SPEC)}
    assert by_name["items_required_fields_complete"].description.endswith("complete (all 100%).")
