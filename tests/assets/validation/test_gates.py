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


def _personal(spec, *columns):
    """``spec`` with ``columns`` declared personal."""
    from assets.core.spec import DatasetSpec

    raw = spec.model_dump(exclude_none=True)
    for c in raw["columns"]:
        c["pii"] = c["name"] in columns
    return DatasetSpec.model_validate(raw)


def test_a_personal_key_is_sampled_as_its_keyed_hash(monkeypatch):
    import hashlib
    import hmac

    monkeypatch.setenv("PIPELINE_PII_HASH_KEY", "test-key")
    flagged = flag(frame({}, {"qty": None}))
    spec = _personal(SPEC, "id", "email")
    found = gate_failures(flagged.lazy(), spec, gates(measure(flagged.lazy(), SPEC), SPEC))
    digest = hmac.new(b"test-key", b"r1", hashlib.sha256).hexdigest()[:16]
    assert found["items_required_fields_complete"] == (1, [f"h:{digest}"])


def test_the_contract_sample_masks_a_personal_columns_failure_cases():
    import polars as pl

    from assets.validation.gates import contract_outcome

    failures = pl.DataFrame(
        {
            "failure_case": ["zelda at privacy-probe.example", "0", "1890-02-03"],
            "column": ["email", "qty", "born"],
            "check": ["str_matches", "greater_than_or_equal_to(1)", "le"],
            "index": [4, 5, 6],
        }
    )
    sample = contract_outcome(_personal(SPEC, "email", "born"), failures).metadata["sample"]
    assert sample["failure_case"].to_list() == ["z***", "0", "1890"]


def test_the_key_gate_of_a_table_without_a_key_says_it_judges_nothing():
    """cars (no key declared) showed keys_unique passing at 100% as if a key had been held."""
    keyless = SPEC.model_copy(
        update={
            "key": [],
            "columns": [c.model_copy(update={"unique": False}) for c in SPEC.columns],
        }
    )
    assert "Keys are unique" in gate_descriptions(SPEC)["items_keys_unique"]
    described = gate_descriptions(keyless)["items_keys_unique"]
    assert described.startswith("No key and no unique column is declared")
