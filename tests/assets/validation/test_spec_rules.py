"""Expression rules, per-rule and per-foreign-key severities and thresholds, derived columns:
a flights-like spec through ``conform`` and ``validate`` on a plain lake (no Dagster)."""

from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from assets.core.spec import SpecError, parse_spec
from assets.core.storage import LakeAt
from assets.ingestion.conform import conform
from assets.validation.checks import check_specs
from assets.validation.validate import GROUP, validate

TODAY = date(2024, 1, 10)
AIRPORTS = {
    "name": "airports",
    "key": ["faa"],
    "columns": [{"name": "faa", "required": True}],
}
PLANES = {"name": "planes", "key": ["tailnum"], "columns": [{"name": "tailnum"}]}
FLIGHTS = {
    "name": "flights",
    "columns": [
        {"name": "year", "type": "integer"},
        {"name": "month", "type": "integer"},
        {"name": "day", "type": "integer"},
        {"name": "sched_dep", "type": "integer"},
        {"name": "origin"},
        {"name": "dest"},
        {"name": "tailnum"},
        {"name": "fare", "type": "float"},
        {"name": "tax", "type": "float"},
        {"name": "total", "type": "float"},
        {"name": "flight_day", "type": "date", "expression": "make_date(year, month, day)"},
        {
            "name": "departs_at",
            "type": "datetime",
            "required": True,
            "expression": "at_hhmm(flight_day, sched_dep)",
        },
    ],
    "foreign_keys": [
        {"columns": ["origin"], "references": "airports", "ref_columns": ["faa"]},
        {"columns": ["dest"], "references": "airports", "ref_columns": ["faa"], "threshold": 0.5},
        {
            "name": "plane",
            "columns": ["tailnum"],
            "references": "planes",
            "ref_columns": ["tailnum"],
            "severity": "warn",
            "threshold": 0.6,
        },
    ],
    "rules": [
        {
            "name": "total_adds_up",
            "kind": "expression",
            "expression": "fare + tax == total",
            "tolerance": 0.01,
        },
        {
            "name": "cheap",
            "kind": "expression",
            "expression": "total < 500",
            "severity": "warn",
        },
    ],
}
ROWS = {  # 6 flights, each breaking one thing (or nothing)
    "year": ["2013", "2013", "2013", "2013", "2013", "2013"],
    "month": ["1", "1", "2", "1", "13", "1"],
    "day": ["1", "1", "28", "2", "1", "3"],
    "sched_dep": ["515", "2400", "1259", "900", "900", "900"],
    "origin": ["EWR", "JFK", "EWR", "EWR", "EWR", "XXX"],
    "dest": ["JFK", "YYY", "EWR", "JFK", "JFK", "JFK"],
    "tailnum": ["N1", "N2", "N9", None, "N1", "N1"],
    "fare": ["100", "200.004", "300", "400", "100", "100"],
    "tax": ["10", "20", "30", "140", "10", "10"],
    "total": ["110", "220", "331", "540", "110", "110"],
}


def _spec(raw: dict, path: str = "flights.yaml"):
    return parse_spec(raw, Path(path))


def _run(tmp_path: Path, flights: dict = FLIGHTS, rows: dict = ROWS):
    spec, airports, planes = _spec(flights), _spec(AIRPORTS), _spec(PLANES)
    raw = conform(pl.LazyFrame(rows), spec, source_file="f.csv", file_sha256="x")
    lake = LakeAt(root=str(tmp_path / "lake"))
    outcome = validate(
        raw,
        spec,
        lake,
        parents={
            "airports": pl.LazyFrame({"faa": ["EWR", "JFK"]}),
            "planes": pl.LazyFrame({"tailnum": ["N1", "N2"]}),
        },
        catalog={"flights": spec, "airports": airports, "planes": planes},
        policy="block",
        today=TODAY,
    )
    return spec, lake, outcome


def test_derived_columns_are_computed_typed_and_validated(tmp_path: Path) -> None:
    _, lake, outcome = _run(tmp_path)
    # The origin gate fails, so the validated rows are the version held back, not published.
    rows = pl.concat(
        [
            outcome.validated.collect(),
            lake.scan(GROUP, "quarantined_flights").collect().drop("_rules", "_reason"),
        ],
        how="diagonal",
    ).sort("_row_number")
    assert rows["flight_day"].to_list() == [
        date(2013, 1, 1),
        date(2013, 1, 1),
        date(2013, 2, 28),
        date(2013, 1, 2),
        None,  # month 13: no date, so no departure time either
        date(2013, 1, 3),
    ]
    assert rows["departs_at"][:2].to_list() == [
        datetime(2013, 1, 1, 5, 15),
        datetime(2013, 1, 2, 0, 0),  # 2400 is the next midnight
    ]


def test_rules_and_foreign_keys_quarantine_or_warn_by_severity(tmp_path: Path) -> None:
    _, lake, outcome = _run(tmp_path)
    bad = lake.scan(GROUP, "quarantined_flights").collect()
    rules = dict(zip(bad["_row_number"].to_list(), bad["_rules"].to_list(), strict=True))
    assert rules == {
        2: ["fk:dest->airports"],
        3: ["rule:total_adds_up"],  # 330 against 331; row 2's 220.004 is within 0.01
        5: ["required:departs_at"],
        6: ["fk:origin->airports"],
    }
    reason = bad.filter(pl.col("_row_number") == 3)["_reason"].item()
    assert reason == (
        "total_adds_up: fare + tax == total does not hold within 0.01 "
        "(fare=300.0, tax=30.0, total=331.0)"
    )
    # N9 has no plane, but the foreign key only warns: row 3 is quarantined for its total
    # alone, and no row is quarantined for its plane.
    assert not any("fk:tailnum->planes" in r for r in rules.values())
    plane = outcome.check("flights_reference_plane")
    assert plane.severity == "WARN" and plane.passed  # 4 of 5 present tail numbers match
    assert plane.metadata["value"] == 0.8 and plane.metadata["threshold"] == 0.6
    assert plane.metadata["failing_rows_sample"] == ["f.csv:3"]  # no key: file and row
    # Two foreign keys to one parent: a gate each, each with its own threshold.
    origin = outcome.check("flights_reference_airports_by_origin")
    dest = outcome.check("flights_reference_airports_by_dest")
    assert (origin.passed, origin.metadata["threshold"], origin.severity) == (False, 0.99, "ERROR")
    assert (dest.passed, dest.metadata["threshold"]) == (True, 0.5)
    # The warn rule keeps the 540 total valid and counts it.
    cheap = outcome.check("flights_rule_cheap")
    assert not cheap.passed and cheap.severity == "WARN"
    assert cheap.metadata["failing_rows"] == 1 and cheap.metadata["failing_rows_sample"] == [
        "f.csv:4"
    ]
    valid = outcome.validated.collect()  # held back by the failed origin gate
    assert valid["_row_number"].to_list() == [1, 4]
    assert not lake.exists(GROUP, "validated_flights")
    assert outcome.metadata["rows_warned_by_rule"] == {"fk:tailnum->planes": 1, "rule:cheap": 1}
    assert "flights_rule_cheap" in outcome.metadata["checks_warned"]
    assert "flights_reference_plane" not in outcome.metadata["gates_failed"]


def test_an_error_rule_with_a_threshold_gets_a_blocking_gate(tmp_path: Path) -> None:
    flights = {**FLIGHTS, "rules": [{**FLIGHTS["rules"][0], "threshold": 0.8}]}
    spec, _, outcome = _run(tmp_path, flights)
    gate = outcome.check("flights_rule_total_adds_up")
    assert gate.passed and gate.severity == "ERROR"
    assert round(gate.metadata["value"], 4) == round(5 / 6, 4)
    blocking = {c.name: c.blocking for c in check_specs(spec, "validated_flights")}
    assert blocking["flights_rule_total_adds_up"] is True
    assert blocking["flights_reference_plane"] is False
    assert blocking["flights_reference_airports_by_dest"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"rules": [{"name": "r", "kind": "expression", "expression": "fare + tax"}]},
            "field 'rules.r.expression': must be true or false for a row",
        ),
        (
            {"rules": [{"name": "r", "kind": "expression", "expression": "origin + 1 > 2"}]},
            "field 'rules.r.expression': the column types do not fit",
        ),
        (
            {"rules": [{"name": "r", "kind": "expression", "expression": "fares > 1"}]},
            "field 'rules.r.expression': unknown column 'fares' at 0; did you mean 'fare'?",
        ),
        (
            {"rules": [{"name": "r", "kind": "expression", "expression": "fare > 1", "tol": 1}]},
            "unknown field 'tol'; expected one of description, expression, kind, name, "
            "severity, threshold, tolerance",
        ),
        (
            {"rules": [{"name": "r", "kind": "expression", "expression": "a > 1"}] * 2},
            "field 'rules': declared twice: r",
        ),
        (
            {
                "foreign_keys": [
                    {"columns": ["origin"], "references": "airports", "ref_columns": ["faa"]},
                    {
                        "name": "airports_by_origin",
                        "columns": ["dest"],
                        "references": "airports",
                        "ref_columns": ["faa"],
                    },
                ]
            },
            "field 'foreign_keys.name': declared twice: flights_reference_airports_by_origin",
        ),
        (
            {"foreign_keys": [{**FLIGHTS["foreign_keys"][2], "severity": "fatal"}]},
            "field 'foreign_keys.0.severity'",
        ),
    ],
)
def test_a_bad_rule_or_foreign_key_is_refused_naming_the_field(change, message) -> None:
    flights = {**FLIGHTS, **change}
    if "a > 1" in str(change):
        flights["columns"] = [*FLIGHTS["columns"], {"name": "a", "type": "integer"}]
    with pytest.raises(SpecError) as err:
        _spec(flights)
    assert message in str(err.value)


def test_a_derived_column_reads_only_columns_declared_before_it() -> None:
    columns = [FLIGHTS["columns"][-1], *FLIGHTS["columns"][:-1]]  # departs_at before flight_day
    with pytest.raises(SpecError, match=r"columns\.departs_at\.expression': unknown column "):
        _spec({**FLIGHTS, "columns": columns})


def test_a_tolerance_equal_to_the_rounding_step_holds_on_binary_floats() -> None:
    from assets.core.expressions import compile_expression

    # Parts that sum 0.5 below the published total, as decimals: as floats the sum is
    # 0.5000000000009095 below, which a bare |a - b| <= 0.5 would refuse.
    frame = pl.DataFrame({"parts": [5678.9 + 0.2], "total": [5679.6]})
    assert abs(frame["parts"][0] - frame["total"][0]) > 0.5
    holds = compile_expression("parts == total", frame.columns, tolerance=0.5).expr
    assert frame.select(holds).item() is True
    off = compile_expression("parts == total", frame.columns, tolerance=0.4).expr
    assert frame.select(off).item() is False
