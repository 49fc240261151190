"""The checks of a validated table as plain data: the blocking gates (thresholds on the quality
metrics), the contract check and the warnings, each a ``CheckOutcome`` that the wiring turns
into a Dagster check result.

Metadata values are plain: ``int``, ``float``, ``bool``, ``str`` (text), ``None``, lists and
dicts (JSON), ``Markdown`` text, and ``pl.DataFrame`` (shown as a markdown table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from assets.core.spec import DatasetSpec, ForeignKeySpec
from assets.validation.quality import QualityReport
from assets.validation.rules import COLUMN_KINDS, EXACT_DUP, RULES

Severity = Literal["ERROR", "WARN"]


class Markdown(str):
    """Metadata text shown as markdown."""


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result: the wiring's ``AssetCheckResult`` without Dagster."""

    name: str
    passed: bool
    severity: Severity
    metadata: dict[str, Any]
    description: str | None = None


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    value: float
    threshold: float
    description: str
    failing_rule_prefixes: tuple[str, ...]


def gates(report: QualityReport, spec: DatasetSpec) -> list[Gate]:
    """The blocking quality gates of one dataset, evaluated against its thresholds."""
    t = spec.thresholds
    name = spec.name
    col, comp = report.required_completeness
    # The column is named only where rows were measured: the check's spec-time description is
    # built from a report with no rows (gate_descriptions) and must not name one.
    measured = ""
    if report.rows_checked and col:
        measured = " (all 100%)" if comp >= 1 else f" (least complete: {col}, {comp:.2%})"
    out = [
        Gate(
            f"{name}_required_fields_complete",
            comp >= t.completeness,
            comp,
            t.completeness,
            f"Every required field is at least {t.completeness:.0%} complete{measured}.",
            ("required:", "type:"),
        ),
        Gate(
            f"{name}_keys_unique",
            min(report.uniqueness.values(), default=1.0) >= t.uniqueness,
            min(report.uniqueness.values(), default=1.0),
            t.uniqueness,
            f"Keys are unique in at least {t.uniqueness:.0%} of rows (exact duplicates are "
            "removed first and do not count).",
            ("unique:",),
        ),
        Gate(
            f"{name}_validity_at_least_threshold",
            report.validity >= t.validity,
            report.validity,
            t.validity,
            f"At least {t.validity:.0%} of rows pass every column rule (type, required, range, "
            "allowed values, pattern, partition day).",
            tuple(f"{kind}:" for kind in COLUMN_KINDS),
        ),
        Gate(
            f"{name}_quality_score_at_least_threshold",
            report.overall_score >= t.overall_score,
            report.overall_score,
            t.overall_score,
            f"The overall quality score (0-100) is at least {t.overall_score:g}.",
            ("",),
        ),
    ]
    for fk in spec.foreign_keys:
        label = f"{', '.join(fk.columns)}->{fk.references}"
        share = report.referential[label]
        out.append(
            Gate(
                reference_gate_name(spec, fk),
                share >= t.referential_integrity,
                share,
                t.referential_integrity,
                f"At least {t.referential_integrity:.0%} of {', '.join(fk.columns)} values match "
                f"a row in {fk.references}.",
                (f"fk:{label}",),
            )
        )
    return out


def gate_failures(
    flagged: pl.LazyFrame, spec: DatasetSpec, gate_list: list[Gate], n: int = 10
) -> dict[str, tuple[int, list[str]]]:
    """For each gate: how many rows broke a rule it counts (a row once, however many it broke;
    exact duplicates are removed, so not counted), and the keys of the first ``n`` of them.

    One pass over the rows that broke a rule: pass it ``ruled_rows``, not every row.
    """
    key = spec.key or [c.name for c in spec.columns[:1]]
    shown = pl.concat_str([pl.col(c).cast(pl.String).fill_null("null") for c in key], separator="|")
    exprs = []
    for i, gate in enumerate(gate_list):
        hit = (
            pl.col(RULES)
            .list.eval(
                pl.any_horizontal(
                    [pl.element().str.starts_with(p) for p in gate.failing_rule_prefixes]
                )
            )
            .list.any()
        )
        exprs += [
            hit.sum().alias(f"rows{i}"),
            shown.filter(hit).head(n).implode().alias(f"keys{i}"),
        ]
    if not exprs:
        return {}
    broke = flagged.filter(~pl.col(EXACT_DUP) & (pl.col(RULES).list.len() > 0))
    row = broke.select(exprs).collect().row(0, named=True)
    return {
        gate.name: (int(row[f"rows{i}"]), list(row[f"keys{i}"])) for i, gate in enumerate(gate_list)
    }


def gate_names(spec: DatasetSpec) -> list[str]:
    names = [
        f"{spec.name}_required_fields_complete",
        f"{spec.name}_keys_unique",
        f"{spec.name}_validity_at_least_threshold",
        f"{spec.name}_quality_score_at_least_threshold",
    ]
    return names + [reference_gate_name(spec, fk) for fk in spec.foreign_keys]


def reference_gate_name(spec: DatasetSpec, fk: ForeignKeySpec) -> str:
    """``<dataset>_reference_<parent>``; where several foreign keys reference one parent (a
    flight's origin and destination airports), each adds its columns: ``..._by_origin``, so
    every gate has a name of its own."""
    name = f"{spec.name}_reference_{fk.references}"
    if sum(other.references == fk.references for other in spec.foreign_keys) > 1:
        name += "_by_" + "_".join(fk.columns)
    return name


def contract_check_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_contract_conforms"


def gate_descriptions(spec: DatasetSpec) -> dict[str, str]:
    """Each gate's description (its thresholds in words), for the check specs."""
    perfect = QualityReport(
        rows_in=0,
        exact_duplicates=0,
        rows_checked=0,
        valid_rows=0,
        quarantined_rows=0,
        completeness={c.name: 1.0 for c in spec.columns},
        uniqueness={", ".join(spec.key): 1.0} if spec.key else {},
        referential={f"{', '.join(fk.columns)}->{fk.references}": 1.0 for fk in spec.foreign_keys},
        validity=1.0,
        consistency=1.0,
        overall_score=100.0,
        required_columns=spec.required_columns,
    )
    return {g.name: g.description for g in gates(perfect, spec)}


def gate_outcomes(
    gate_list: list[Gate], failing: Mapping[str, tuple[int, list[str]]], severity: Severity
) -> list[CheckOutcome]:
    """The gates as check results; ``failing``: each gate's failing rows and a sample of keys
    (``gate_failures``)."""
    return [
        CheckOutcome(
            g.name,
            g.passed,
            severity,
            {
                "value": float(round(g.value, 6)),
                "threshold": float(g.threshold),
                "failing_rows": int(failing[g.name][0]),
                "failing_rows_sample": list(failing[g.name][1]),
            },
            g.description,
        )
        for g in gate_list
    ]


def contract_outcome(spec: DatasetSpec, failures: pl.DataFrame) -> CheckOutcome:
    """The pandera contract check: its failure cases and a sample of them."""
    return CheckOutcome(
        contract_check_name(spec),
        failures.height == 0,
        "ERROR",
        {
            "failure_cases": failures.height,
            "sample": failures.head(10).select(pl.all().cast(pl.String))
            if failures.height
            else Markdown("none"),
        },
    )


def warning_outcomes(
    spec: DatasetSpec,
    report: QualityReport,
    *,
    drift: dict[str, list[str]],
    first_run: bool,
    anomalies: list[dict[str, float | str]],
    history_points: int,
    k: float,
    fences: Mapping[str, Mapping[str, float]],
    outlier_keys: list[str],
) -> list[CheckOutcome]:
    """The WARN checks: schema drift, outliers, and the row count and quality metrics against
    their history. ``fences``: what each outlier column was judged by; ``outlier_keys``: a
    sample of the flagged rows' keys; ``anomalies``: ``history.metric_anomalies``."""
    name = spec.name
    count_anomaly = [a for a in anomalies if a["metric"] == "rows_in"]
    other = [a for a in anomalies if a["metric"] != "rows_in"]
    n_outliers = sum(report.outliers.values())
    outliers = spec.outliers
    return [
        CheckOutcome(
            f"{name}_schema_unchanged",
            not any(drift.values()),
            "WARN",
            {"drift": drift, "first_run": first_run},
        ),
        CheckOutcome(
            f"{name}_no_outliers",
            n_outliers == 0,
            "WARN",
            {
                "outliers": n_outliers,
                "by_column": report.outliers,
                "sample_keys": outlier_keys,
                "fences": {c: {m: round(v, 6) for m, v in f.items()} for c, f in fences.items()},
                "method": outliers.method if outliers else "none",
                "z_threshold": float(outliers.z_threshold) if outliers else None,
            },
        ),
        CheckOutcome(
            f"{name}_row_count_within_history",
            not count_anomaly,
            "WARN",
            {
                "rows_in": report.rows_in,
                "anomaly": count_anomaly,
                "threshold_robust_z": float(k),
            },
        ),
        CheckOutcome(
            f"{name}_quality_metrics_stable",
            not other,
            "WARN",
            {
                "anomalies": other,
                "threshold_robust_z": float(k),
                "history_points": history_points,
            },
        ),
    ]
