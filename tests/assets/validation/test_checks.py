"""Check results built from plain outcomes: each plain metadata value as Dagster records it."""

import dagster as dg
import polars as pl

from assets.validation.checks import check_result, metadata_values
from assets.validation.gates import CheckOutcome, Markdown


def test_plain_metadata_becomes_the_dagster_values_the_ui_shows() -> None:
    values = metadata_values(
        {
            "rows": 3,
            "share": 0.5,
            "first_run": True,
            "method": "iqr",
            "missing": None,
            "sample": ["a", "b"],
            "by_column": {"x": 1},
            "note": Markdown("none"),
            "table": pl.DataFrame({"rule": ["r"], "rows": [2]}),
        }
    )
    assert values["rows"] == dg.MetadataValue.int(3)
    assert values["share"] == dg.MetadataValue.float(0.5)
    assert values["first_run"] is True and values["method"] == "iqr"
    assert values["missing"] == dg.MetadataValue.null()
    assert values["sample"] == dg.MetadataValue.json(["a", "b"])
    assert values["by_column"] == dg.MetadataValue.json({"x": 1})
    assert values["note"] == dg.MetadataValue.md("none")
    assert values["table"] == dg.MetadataValue.md("| rule | rows |\n|---|---|\n| r | 2 |")


def test_check_result_keeps_name_outcome_severity_and_description() -> None:
    result = check_result(CheckOutcome("g", False, "WARN", {"value": 0.9}, "Gate g."))
    assert (result.check_name, result.passed, result.description) == ("g", False, "Gate g.")
    assert result.severity == dg.AssetCheckSeverity.WARN
    assert result.metadata == {"value": dg.MetadataValue.float(0.9)}
