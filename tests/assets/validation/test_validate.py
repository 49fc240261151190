"""``validate`` on a small hand-built table and a plain lake: no Dagster."""

from pathlib import Path

import polars as pl

from assets.core.storage import LakeAt
from assets.validation.history import HISTORY_TABLE
from assets.validation.validate import GROUP, validate
from tests.assets.validation.rows import PARENT, PARENTS, SPEC, TODAY, frame


def _validate(lake: LakeAt, raw: pl.LazyFrame, policy: str = "block"):
    return validate(
        raw,
        SPEC,
        lake,
        parents={"parents": PARENTS},
        catalog={"items": SPEC, "parents": PARENT},
        policy=policy,
        today=TODAY,
    )


def test_validate_splits_rows_writes_both_tables_and_judges_the_gates(tmp_path: Path) -> None:
    lake = LakeAt(root=str(tmp_path / "lake"))
    raw = frame({}, {}, {"qty": None}, {"kind": "z"}, {"parent_id": "P9"}, {"id": "r0"})
    outcome = _validate(lake, raw)

    # r5 is an exact duplicate of r0: removed, in neither table. The validated rows are a
    # version held back by the failed gate (nothing is published); the quarantine is published.
    validated = outcome.validated.collect()
    assert not lake.exists(GROUP, "validated_items")
    quarantined = lake.scan(GROUP, "quarantined_items").collect()
    assert validated["id"].to_list() == ["r0", "r1"]
    assert dict(zip(quarantined["id"], quarantined["_rules"].to_list(), strict=True)) == {
        "r2": ["required:qty"],
        "r3": ["allowed:kind"],
        "r4": ["fk:parent_id->parents"],
    }
    assert outcome.metadata["published_version"] is None
    assert "items_required_fields_complete" in outcome.metadata["held_back_because"]
    report = outcome.report
    assert (report.rows_in, report.valid_rows, report.quarantined_rows) == (6, 2, 3)
    assert report.exact_duplicates == 1

    gate = outcome.check("items_required_fields_complete")
    assert not gate.passed and gate.severity == "ERROR"
    assert gate.metadata["value"] == 0.8 and gate.metadata["threshold"] == 0.95
    assert gate.metadata["failing_rows"] == 1 and gate.metadata["failing_rows_sample"] == ["r2"]
    assert outcome.check("items_keys_unique").passed
    assert outcome.check("items_contract_conforms").passed
    assert "items_required_fields_complete" in outcome.metadata["gates_failed"]
    assert outcome.metadata["rows_quarantined"] == 3 and outcome.metadata["policy"] == "block"
    assert any("items_required_fields_complete failed" in w for w in outcome.warnings)

    # The first run keeps its schema for the drift check; the history is the wiring's to write.
    assert outcome.check("items_schema_unchanged").metadata["first_run"] is True
    assert lake.state_path(GROUP, "items_schema.json").exists()
    assert not lake.exists(GROUP, HISTORY_TABLE)


def test_warn_policy_makes_failed_gates_warnings(tmp_path: Path) -> None:
    lake = LakeAt(root=str(tmp_path / "lake"))
    outcome = _validate(lake, frame({}, {"qty": None}), policy="warn")
    gate = outcome.check("items_required_fields_complete")
    assert not gate.passed and gate.severity == "WARN"
    assert outcome.check("items_contract_conforms").severity == "ERROR"


def test_rows_whose_unreadable_values_differ_are_not_exact_duplicates(tmp_path: Path) -> None:
    """Two rows equal in every typed value, but whose dates failed to parse from different
    texts, are two rows: each is quarantined with its reason, none dropped as a duplicate."""
    lake = LakeAt(root=str(tmp_path / "lake"))
    raw = frame(
        {"born": None, "_ingest_errors": '{"born": "13.05.2014"}'},
        {"id": "r0", "born": None, "_ingest_errors": '{"born": "07.07.2012"}'},
        {"id": "r0", "born": None, "_ingest_errors": '{"born": "07.07.2012"}'},
    )
    outcome = _validate(lake, raw)
    assert outcome.report.exact_duplicates == 1  # only the third row repeats the second
    quarantined = lake.scan(GROUP, "quarantined_items").collect().sort("_ingest_errors")
    assert quarantined["_ingest_errors"].to_list() == [
        '{"born": "07.07.2012"}',
        '{"born": "13.05.2014"}',
    ]
    assert outcome.report.rows_in == 3
    assert outcome.report.valid_rows + outcome.report.quarantined_rows == 2
