"""The checks of a validated table as plain data: the blocking gates (thresholds on the quality
metrics), the contract check and the warnings, each a ``CheckOutcome`` that the wiring turns
into a Dagster check result.

Metadata values are plain: ``int``, ``float``, ``bool``, ``str`` (text), ``None``, lists and
dicts (JSON), ``Markdown`` text, and ``pl.DataFrame`` (shown as a markdown table).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import polars as pl

from assets.core.check_outcome import CheckOutcome, Severity
from assets.core.privacy import mask_frame, mask_value_expr, pii_masks
from assets.core.spec import DatasetSpec
from assets.validation.quality import QualityReport
from assets.validation.rules import COLUMN_KINDS, EXACT_DUP, RULES


class Markdown(str):
    """Metadata text shown as markdown."""


@dataclass(frozen=True)
class Gate:
    name: str
    passed: bool
    value: float
    threshold: float
    description: str
    failing_rule_prefixes: tuple[str, ...]
    # A gate over a warn rule or foreign key: its check warns and never blocks, and its
    # failing rows are among the warned rows (they stay valid).
    warn: bool = False


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
            (
                f"Keys are unique in at least {t.uniqueness:.0%} of rows (exact duplicates are "
                "removed first and do not count)."
                if spec.key or any(c.unique for c in spec.columns)
                else "No key and no unique column is declared, so there is nothing to judge: "
                "it passes (declare `key:` to make it a gate)."
            ),
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
        share = report.referential[fk.label]
        least = t.referential_integrity if fk.threshold is None else fk.threshold
        kept = " (orphan rows stay valid)" if fk.severity == "warn" else ""
        out.append(
            Gate(
                spec.reference_check_name(fk),
                share >= least,
                share,
                least,
                f"At least {_share_text(least)} of {', '.join(fk.columns)} values match "
                f"a row in {fk.references}{kept}.",
                (f"fk:{fk.label}",),
                warn=fk.severity == "warn",
            )
        )
    for rule in spec.rules:
        if not rule.has_check:
            continue
        warn = rule.severity == "warn"
        broke = (report.warnings if warn else report.rule_failures).get(f"rule:{rule.name}", 0)
        share = 1.0 - broke / report.rows_checked if report.rows_checked else 1.0
        least = 1.0 if rule.threshold is None else rule.threshold
        kept = " (rows that break it stay valid)" if warn else ""
        out.append(
            Gate(
                spec.rule_check_name(rule),
                share >= least,
                share,
                least,
                f"At least {_share_text(least)} of rows pass rule {rule.name}{kept}.",
                (f"rule:{rule.name}",),
                warn=warn,
            )
        )
    return out


def _share_text(share: float) -> str:
    """A threshold as a percentage that does not round 0.995 up to 100%."""
    return f"{share:.2%}".replace(".00%", "%")


def gate_failures(
    flagged: pl.LazyFrame, spec: DatasetSpec, gate_list: list[Gate], n: int = 10
) -> dict[str, tuple[int, list[str]]]:
    """For each gate: how many rows broke a rule it counts (a row once, however many it broke;
    exact duplicates are removed, so not counted), and the keys of the first ``n`` of them.

    One pass over the rows that broke a rule: pass it ``ruled_rows``, not every row.
    """
    # Without a key, a row is identified by where it came from.
    key = spec.key or [c for c in ("_source_file", "_row_number") if c in flagged.collect_schema()]
    key = key or [spec.columns[0].name]
    keys = pl.struct(key)
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
            keys.filter(hit).head(n).implode().alias(f"keys{i}"),
        ]
    if not exprs:
        return {}
    broke = flagged.filter(~pl.col(EXACT_DUP) & (pl.col(RULES).list.len() > 0))
    found = broke.select(exprs).collect()
    return {
        gate.name: (
            int(found[f"rows{i}"][0]),
            shown_keys(found[f"keys{i}"][0].struct.unnest(), spec),
        )
        for i, gate in enumerate(gate_list)
    }


def shown_keys(rows: pl.DataFrame, spec: DatasetSpec) -> list[str]:
    """Sample rows' keys as check metadata shows them: the key's values joined by "|" (a file
    and row number by ":"), a personal one as its keyed hash (``privacy.pii_masks``)."""
    if rows.is_empty():
        return []
    lineage = rows.columns == ["_source_file", "_row_number"]
    texts = mask_frame(rows.select(pl.all().cast(pl.String)), pii_masks(spec))
    return (
        texts.select(pl.concat_str(pl.all().fill_null("null"), separator=":" if lineage else "|"))
        .to_series()
        .to_list()
    )


def gate_names(spec: DatasetSpec) -> list[str]:
    return [g.name for g in declared_gates(spec)]


def contract_check_name(spec: DatasetSpec) -> str:
    return f"{spec.name}_contract_conforms"


def gate_descriptions(spec: DatasetSpec) -> dict[str, str]:
    """Each gate's description (its thresholds in words), for the check specs."""
    return {g.name: g.description for g in declared_gates(spec)}


def declared_gates(spec: DatasetSpec) -> list[Gate]:
    """The gates of ``spec`` as declared (judged on a perfect report): names, descriptions,
    thresholds and whether each only warns, for the check specs."""
    perfect = QualityReport(
        rows_in=0,
        exact_duplicates=0,
        rows_checked=0,
        valid_rows=0,
        quarantined_rows=0,
        completeness={c.name: 1.0 for c in spec.columns},
        uniqueness={", ".join(spec.key): 1.0} if spec.key else {},
        referential={fk.label: 1.0 for fk in spec.foreign_keys},
        validity=1.0,
        consistency=1.0,
        overall_score=100.0,
        required_columns=spec.required_columns,
    )
    return gates(perfect, spec)


def gate_outcomes(
    gate_list: list[Gate], failing: Mapping[str, tuple[int, list[str]]], severity: Severity
) -> list[CheckOutcome]:
    """The gates as check results; ``failing``: each gate's failing rows and a sample of keys
    (``gate_failures``)."""
    return [
        CheckOutcome(
            g.name,
            g.passed,
            "WARN" if g.warn else severity,
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
            "sample": _masked_cases(failures.head(10).select(pl.all().cast(pl.String)), spec)
            if failures.height
            else Markdown("none"),
        },
    )


def _masked_cases(cases: pl.DataFrame, spec: DatasetSpec) -> pl.DataFrame:
    """Pandera's failure cases with the value of a personal column masked as that column is."""
    value = pl.col("failure_case")
    masked = value
    for column, mask in pii_masks(spec).items():
        masked = (
            pl.when(pl.col("column") == column)
            .then(mask_value_expr(value, mask, pl.String()))
            .otherwise(masked)
        )
    return cases.with_columns(masked.alias("failure_case")) if "column" in cases.columns else cases


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
