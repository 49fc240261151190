"""The demo's closing summary from plain facts: every figure from the run, every path real."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from demo.summary import (
    CheckResult,
    RunFacts,
    check_reason,
    dataset_outcomes,
    headline_insights,
    refusal_reason,
    summary_lines,
)

ROOT = Path(__file__).resolve().parents[2]

INSIGHTS = {
    "insights": [
        {
            "category": "data quality",
            "statement": "orders: 200 rows quarantined.",
            "impact_eur": None,
        },
        {"category": "pricing", "statement": "Toys: raise prices.", "impact_eur": 11_388.9},
        {"category": "churn", "statement": "610 customers at risk.", "impact_eur": 147_843.1},
        {"category": "segments", "statement": "One segment brings 91%.", "impact_eur": None},
        {"category": "pricing", "statement": "Electronics: lower prices.", "impact_eur": 83_036.4},
    ],
    "recommendations": [
        {"rank": 2, "action": "Lower electronics prices by 20%", "expected_effect": "+21.3%"},
        {"rank": 1, "action": "Run a retention campaign", "expected_effect": "EUR 29,569 a year"},
    ],
}


def _facts(tmp_path: Path, **changes) -> RunFacts:
    reports = tmp_path / "reports"
    (reports / "exports").mkdir(parents=True)
    (reports / "quality_report.html").write_text("<html></html>")
    (reports / "insights_report.html").write_text("<html></html>")
    # pipeline_report.html is named by the run but absent: it must not be linked.
    materialized = {
        "validated_orders": {
            "rows_in": 20_040,
            "rows_valid": 19_800,
            "rows_quarantined": 200,
            "exact_duplicates_removed": 40,
            "quality_score": 99.708,
        },
        "validated_products": {
            "rows_in": 50,
            "rows_valid": 50,
            "rows_quarantined": 0,
            "exact_duplicates_removed": 0,
            "quality_score": 100.0,
        },
        "raw_orders": {"rows_in": 20_040},
        "quality_report": {"path": str(reports / "quality_report.html")},
        "insights_report": {"path": str(reports / "insights_report.html")},
        "pipeline_report": {"path": str(reports / "pipeline_report.html")},
        "exports": {"folder": str(reports / "exports")},
    }
    checks = [
        CheckResult("orders_keys_unique", "validated_orders", "ERROR", True, "Keys are unique."),
        CheckResult(
            "orders_no_outliers",
            "validated_orders",
            "WARN",
            False,
            None,
            {"outliers": 40, "by_column": {"outlier:quantity": 40}, "sample_keys": ["O1"] * 50},
        ),
        CheckResult(
            "orders_required_fields_complete",
            "validated_orders",
            "ERROR",
            False,
            "Every required field is at least 99% complete (least complete: quantity, 98.50%).",
            {"value": 0.985, "threshold": 0.99},
        ),
    ]
    base = {
        "job": "full_pipeline",
        "run_id": "r-1",
        "status": "SUCCESS",
        "seconds": 125.4,
        "materialized": materialized,
        "checks": checks,
    }
    return RunFacts(**{**base, **changes})


def test_the_summary_tells_the_run_with_its_own_figures_and_links_only_what_exists(tmp_path):
    warehouse = tmp_path / "warehouse.duckdb"
    warehouse.write_bytes(b"")
    lines = summary_lines(
        _facts(tmp_path),
        INSIGHTS,
        paths={"warehouse (DuckDB)": warehouse, "quarantined files": tmp_path / "quarantine"},
        ui_hint="In the UI: ...",
    )
    text = "\n".join(lines)
    assert lines[0] == "full_pipeline succeeded in 2 min 05 s (run r-1)."
    # One row per validated dataset, in the run's own numbers (raw_orders is not a dataset row).
    orders = next(line for line in lines if line.strip().startswith("orders"))
    assert orders.split() == ["orders", "20,040", "19,800", "200", "40", "99.7"]
    assert sum(line.strip().startswith(("orders", "products")) for line in lines) == 2
    assert "validation.quarantined_<dataset>" in text
    # Failed before warned; passed checks are counted, not listed.
    assert "Checks: 3 evaluated, 1 passed, 1 warned, 1 failed:" in text
    failed = lines.index(
        "  FAILED orders_required_fields_complete on validated_orders: Every required field is "
        "at least 99% complete (least complete: quantity, 98.50%); value 0.985; threshold 0.99"
    )
    assert lines[failed + 1] == (
        "  WARN   orders_no_outliers on validated_orders: outliers 40; by_column "
        '{"outlier:quantity": 40}'
    )
    # The headline insights are the insights report's: the largest EUR impact first.
    head = lines.index("Headline insights:")
    assert lines[head + 1 : head + 4] == [
        "  1. 610 customers at risk.",
        "  2. Electronics: lower prices.",
        "  3. Toys: raise prices.",
    ]
    recs = lines.index("Top recommendations:")
    assert lines[recs + 1] == "  1. Run a retention campaign (EUR 29,569 a year)"
    # Links and paths: only those that exist.
    assert (tmp_path / "reports" / "quality_report.html").as_uri() in text
    assert (tmp_path / "reports" / "exports").as_uri() in text
    assert "pipeline_report" not in text
    assert "quarantined files" not in text
    assert str(warehouse) in text and "file://" + str(warehouse) not in text
    assert lines[-1] == "In the UI: ..."


def test_a_failed_run_names_its_failed_steps_and_shows_what_it_got_to(tmp_path):
    facts = _facts(
        tmp_path,
        status="FAILURE",
        seconds=42,
        materialized={},
        checks=[],
        failed_steps=[("validate_orders", "1 blocking asset check failed")],
    )
    lines = summary_lines(facts, None)
    assert lines == [
        "full_pipeline FAILED in 42 s (run r-1).",
        "  step validate_orders failed: 1 blocking asset check failed",
    ]


def test_outcomes_and_reasons_read_plain_metadata():
    assert dataset_outcomes({"validated_x": {"rows_in": 3, "rows_out": 2}})[0].valid == 2
    bare = CheckResult("c", "a", "WARN", False)
    assert check_reason(bare) == "no reason recorded"
    assert headline_insights({"insights": "not a list"}) == []
    assert headline_insights(None) == []


def test_a_refused_launch_is_told_by_its_reason_alone():
    output = "\n".join(
        [
            "Traceback (most recent call last):",
            '  File "/x/dagster/_cli/job.py", line 552, in job_launch_command',
            "dagster._core.errors.DagsterUserCodeProcessError: dagster._core.errors."
            "DagsterInvalidConfigError: Run config for job full_pipeline refused before the run "
            "started:",
            "  ops.sample_landing_data.config.defect_rate: Input should be less than or equal to "
            "0.2 (got 0.9)",
            "",
            "Stack Trace:",
            '  File "/x/dagster/_grpc/server.py", line 873, in ExecutionPlanSnapshot',
        ]
    )
    assert refusal_reason(output) == (
        "Run config for job full_pipeline refused before the run started:\n"
        "  ops.sample_landing_data.config.defect_rate: Input should be less than or equal to "
        "0.2 (got 0.9)"
    )
    assert refusal_reason("Traceback ...\nValueError: boom") is None


def test_the_summary_module_imports_no_dagster():
    code = (
        "import sys, demo.summary\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0].startswith('dagster')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"
