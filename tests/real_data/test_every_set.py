"""Every real data set, from both landing variants, through real ingestion and validation runs,
checked against facts DuckDB computes from the raw landing files (tests/real_data/oracle.py):
every row accounted for, missing values kept missing, no value altered, each quarantined row
quarantined for exactly the rules the raw file breaks (repeated keys included), each foreign
key's orphans and each checked rule's failures counted, and the two variants giving the same
tables."""

from __future__ import annotations

from datetime import date

import pytest

from assets.core.spec import DatasetSpec
from tests.real_data import oracle
from tests.real_data.conftest import RunsOf
from tests.real_data.corpus import (
    DERIVED_SQL,
    EXPRESSION_SQL,
    SETS,
    SLOW_SETS,
    VARIANTS,
    SetRun,
    fingerprint,
)


def _marks(set_name: str) -> list[pytest.MarkDecorator]:
    """One process runs a set's tests, so its two runs happen once; slow sets are e2e."""
    group = pytest.mark.xdist_group(f"real_{set_name}")
    return [group, pytest.mark.e2e] if set_name in SLOW_SETS else [group]


BY_SET = [pytest.param(s, marks=_marks(s)) for s in SETS]
BY_SET_AND_VARIANT = [pytest.param(s, v, marks=_marks(s)) for s in SETS for v in VARIANTS]


def _sources(run: SetRun):
    """A DuckDB connection with the run's warehouse attached and every raw file of the set as
    a typed view ``src_<dataset>`` (see oracle.load_source)."""
    con = oracle.connect()
    run.attach(con)
    for name, spec in run.catalog.items():
        derived = DERIVED_SQL.get(run.set_name, {}).get(name, {})
        oracle.load_source(con, f"src_{name}", run.file(name), spec, derived)
    return con


def _predicates(set_name: str, name: str, spec: DatasetSpec) -> dict[str, str]:
    """Every rule of ``spec`` as SQL over ``src_<name>`` (see oracle.rule_predicates)."""
    parents = {fk.references: f"src_{fk.references}" for fk in spec.foreign_keys}
    expressions = EXPRESSION_SQL.get(set_name, {}).get(name, {})
    return oracle.rule_predicates(spec, parents, expressions, date.today())


def _table(kind: str, name: str) -> str:
    return f"wh.validation.{oracle.ident(f'{kind}_{name}')}"


def _both(name: str) -> str:
    """The validated and the quarantined rows of ``name`` together."""
    cols = "_row_number, _source_file"
    return (
        f"(SELECT * EXCLUDE (_rules, _reason, _fixes) FROM {_table('quarantined', name)} "  # noqa: S608 - identifiers checked
        f"UNION ALL BY NAME SELECT * FROM {_table('validated', name)} ORDER BY {cols})"
    )


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_landing_files_are_only_read(runs_of: RunsOf, set_name: str, variant: str):
    run = runs_of(set_name)[variant]
    assert fingerprint(run.landing) == run.landing_before


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_every_row_is_validated_or_quarantined_once(runs_of: RunsOf, set_name: str, variant: str):
    run = runs_of(set_name)[variant]
    with _sources(run) as con:
        for name in run.catalog:
            in_file = con.execute(f"SELECT count(*) FROM src_{name}").fetchone()  # noqa: S608 - dataset names are identifiers
            meta = run.metadata(f"validated_{name}")
            valid, bad, dups = (
                meta["rows_valid"],
                meta["rows_quarantined"],
                meta["exact_duplicates_removed"],
            )
            assert in_file is not None and valid + bad + dups == in_file[0], name
            # Each row of the file comes out once, under its own row number and file.
            rows = con.execute(
                f"SELECT count(*), count(DISTINCT _row_number), min(_row_number), "  # noqa: S608 - identifiers checked
                f"max(_row_number), list(DISTINCT _source_file) FROM {_both(name)}"
            ).fetchone()
            relative = str(run.file(name).relative_to(run.landing))
            assert rows == (in_file[0], in_file[0], 1, in_file[0], [relative]), name


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_quarantine_holds_exactly_the_rows_that_break_a_rule(
    runs_of: RunsOf, set_name: str, variant: str
):
    run = runs_of(set_name)[variant]
    with _sources(run) as con:
        for name, spec in run.catalog.items():
            predicates = _predicates(set_name, name, spec)
            expected = oracle.expected_quarantine(con, f"src_{name}", spec, predicates)
            got = con.execute(
                f"SELECT _row_number, _rules FROM {_table('quarantined', name)}"  # noqa: S608 - identifiers checked
            ).fetchall()
            found = {row: sorted(rules) for row, rules in got}
            assert found == {row: sorted(rules) for row, rules in expected.items()}, name


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_missing_values_stay_missing_and_every_value_is_typed(
    runs_of: RunsOf, set_name: str, variant: str
):
    run = runs_of(set_name)[variant]
    with _sources(run) as con:
        for name, spec in run.catalog.items():
            counts = ", ".join(f"count({oracle.ident(c.name)})" for c in spec.columns)
            in_file = con.execute(f"SELECT {counts} FROM src_{name}").fetchone()  # noqa: S608 - identifiers checked
            texts = ", ".join(
                f"count({oracle.ident('t_' + c.name)})"
                for c in spec.columns
                if c.name not in DERIVED_SQL.get(set_name, {}).get(name, {})
            )
            present_texts = con.execute(f"SELECT {texts} FROM src_{name}").fetchone()  # noqa: S608 - identifiers checked
            out = con.execute(f"SELECT {counts} FROM {_both(name)}").fetchone()  # noqa: S608 - identifiers checked
            assert out == in_file, name
            # Nothing failed to type: every present text is a value, every missing one a null.
            untyped = con.execute(
                f"SELECT count(*) FROM {_both(name)} WHERE _ingest_errors IS NOT NULL"  # noqa: S608 - identifiers checked
            ).fetchone()
            assert untyped == (0,), name
            typed = [
                n
                for c, n in zip(spec.columns, in_file or (), strict=True)
                if c.name not in DERIVED_SQL.get(set_name, {}).get(name, {})
            ]
            assert tuple(typed) == present_texts, name


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_no_value_is_altered(runs_of: RunsOf, set_name: str, variant: str):
    run = runs_of(set_name)[variant]
    with _sources(run) as con:
        for name, spec in run.catalog.items():
            differs = ", ".join(
                f"count(*) FILTER (WHERE s.{oracle.ident(c.name)} IS DISTINCT FROM "
                f"o.{oracle.ident(c.name)})"
                for c in spec.columns
            )
            source = oracle.literal(str(run.file(name).relative_to(run.landing)))
            row = con.execute(
                f"SELECT count(*), {differs} FROM {_both(name)} o "  # noqa: S608 - identifiers checked, the file name quoted
                f"JOIN src_{name} s ON o._source_file = {source} "
                "AND o._row_number = s._row_number"
            ).fetchone()
            assert row is not None
            joined, *mismatches = row
            assert joined == run.metadata(f"validated_{name}")["rows_in"], name
            altered = {c.name: n for c, n in zip(spec.columns, mismatches, strict=True) if n}
            assert altered == {}, name


@pytest.mark.parametrize("set_name", BY_SET)
def test_both_landing_variants_give_the_same_tables(runs_of: RunsOf, set_name: str):
    runs = runs_of(set_name)
    tables = {}
    for variant, run in runs.items():
        with _sources(run) as con:
            tables[variant] = {
                name: con.execute(
                    f"SELECT * EXCLUDE (_source_file, _file_sha256) FROM {_both(name)}"  # noqa: S608 - identifiers checked
                ).fetchall()
                for name in run.catalog
            }
            for name in run.catalog:
                tables[variant][f"quarantine:{name}"] = con.execute(
                    f"SELECT _row_number, _rules, _reason FROM {_table('quarantined', name)} "  # noqa: S608 - identifiers checked
                    "ORDER BY _row_number"
                ).fetchall()
    first, second = (tables[v] for v in VARIANTS)
    assert first.keys() == second.keys()
    for table in first:
        assert first[table] == second[table], table


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_each_foreign_key_check_counts_the_orphans_in_the_file(
    runs_of: RunsOf, set_name: str, variant: str
):
    run = runs_of(set_name)[variant]
    checks = run.checks()
    with _sources(run) as con:
        for name, spec in run.catalog.items():
            for fk in spec.foreign_keys:
                orphan = oracle.orphan_predicate(fk, f"src_{fk.references}")
                present = oracle.present_predicate(fk)
                counted = con.execute(
                    f"SELECT count(*) FILTER (WHERE {orphan}), count(*) FILTER (WHERE {present}) "  # noqa: S608 - identifiers checked
                    f"FROM src_{name} s"
                ).fetchone()
                assert counted is not None
                orphans, referencing = counted
                check = checks[oracle.reference_check_name(spec, fk)]
                share = 1 - orphans / referencing if referencing else 1.0
                threshold = (
                    fk.threshold
                    if fk.threshold is not None
                    else spec.thresholds.referential_integrity
                )
                label = (name, oracle.fk_rule_name(fk))
                assert check.metadata["failing_rows"].value == orphans, label
                assert check.metadata["value"].value == pytest.approx(share, abs=1e-6), label
                assert check.metadata["threshold"].value == threshold, label
                assert check.passed == (share >= threshold), label
                severity = "WARN" if fk.severity == "warn" else "ERROR"
                assert check.severity.value == severity, label


@pytest.mark.parametrize(("set_name", "variant"), BY_SET_AND_VARIANT)
def test_each_rule_with_a_check_counts_the_rows_that_break_it(
    runs_of: RunsOf, set_name: str, variant: str
):
    run = runs_of(set_name)[variant]
    checks = run.checks()
    with _sources(run) as con:
        for name, spec in run.catalog.items():
            predicates = _predicates(set_name, name, spec)
            for rule in spec.rules:
                if not rule.has_check:
                    continue
                counted = con.execute(
                    f"SELECT count(*) FILTER (WHERE {predicates[f'rule:{rule.name}']}), "  # noqa: S608 - identifiers checked
                    f"count(*) FROM src_{name} s"
                ).fetchone()
                assert counted is not None
                broken, rows = counted
                check = checks[f"{name}_rule_{rule.name}"]
                share = 1 - broken / rows if rows else 1.0
                assert check.metadata["failing_rows"].value == broken, (name, rule.name)
                passes = broken == 0 if rule.threshold is None else share >= rule.threshold
                assert check.passed == passes, (name, rule.name)
                severity = "WARN" if rule.severity == "warn" else "ERROR"
                assert check.severity.value == severity, (name, rule.name)
