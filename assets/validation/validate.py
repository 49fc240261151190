"""One dataset's validation, without Dagster: flag the raw rows, write the validated and the
quarantined table, measure them, and judge the gates, the contract and the warnings.

``validate`` returns everything the wiring reports as plain data (``ValidationOutcome``); the
only thing left to the wiring is the run's history part and the warehouse views.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import polars as pl

from assets.core.columns import ERRORS_COLUMN, PARTITION
from assets.core.spec import DatasetSpec, LookupCompareRule
from assets.core.storage import (
    FULL_PART,
    SCHEMA_PART,
    Lake,
    LakePath,
    atomic_write_bytes,
    scan_parts,
    sink_parquet_atomic,
)
from assets.core.versions import (
    KEEP_VERSIONS_HOURS,
    Version,
    day_of,
    hold_back,
    new_version,
    prune_versions,
    publish,
)
from assets.ingestion.partitions import day_parts, write_days
from assets.validation.daily import day_anomalies, day_summary, with_days
from assets.validation.flagging import flag_rows
from assets.validation.gates import (
    CheckOutcome,
    Markdown,
    contract_check_name,
    contract_outcome,
    gate_failures,
    gate_outcomes,
    gates,
    shown_keys,
    warning_outcomes,
)
from assets.validation.history import (
    HISTORY_TABLE,
    load_history,
    metric_anomalies,
    run_history,
    schema_drift,
)
from assets.validation.outliers import flag_outliers, outlier_fences
from assets.validation.quality import (
    QualityReport,
    measure,
    measure_by,
    outcome_tables,
    ruled_rows,
)
from assets.validation.rules import OUTLIERS, data_columns, trusted_reference

GROUP = "validation"
INGESTION = "ingestion"


@dataclass(frozen=True)
class ValidationOutcome:
    """What one validation wrote and found.

    ``validated`` and ``quarantined`` read back the rows written (only the validated days of a
    partitioned table); ``metadata`` is the validated table's quality metadata and
    ``quarantine_metadata`` the quarantine's, beside the table metadata of each; ``warnings``
    are messages worth a warning in the run's log.
    """

    policy: str
    report: QualityReport
    checks: list[CheckOutcome]
    validated: pl.LazyFrame
    quarantined: pl.LazyFrame
    seconds: float
    metadata: dict[str, Any]
    quarantine_metadata: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # Each day's quality, for a partitioned run (``daily``).
    daily: dict[date, QualityReport] = field(default_factory=dict)

    def check(self, name: str) -> CheckOutcome:
        return next(c for c in self.checks if c.name == name)

    @property
    def summary(self) -> str:
        r = self.report
        return (
            f"{r.rows_in:,} rows in, {r.valid_rows:,} valid, {r.quarantined_rows:,} quarantined, "
            f"{r.exact_duplicates:,} exact duplicates removed; quality score "
            f"{r.overall_score:.1f} (policy {self.policy})."
        )


def table_names(spec: DatasetSpec) -> tuple[str, str]:
    """The validated and the quarantined table of a dataset."""
    return f"validated_{spec.name}", f"quarantined_{spec.name}"


def parent_tables(spec: DatasetSpec, catalog: Mapping[str, DatasetSpec]) -> list[str]:
    """The datasets whose raw rows the rules compare with: foreign-key parents and lookups."""
    parents = {fk.references for fk in spec.foreign_keys}
    lookups = {r.references for r in spec.rules if isinstance(r, LookupCompareRule)}
    return sorted(n for n in parents | lookups if n in catalog)


def scan_days(lake: Lake, group: str, table: str, days: list[date] | None) -> pl.LazyFrame:
    """The whole table, or only the given days of a partitioned one (its schema part if none)."""
    if days is None:
        return lake.scan(group, table)
    directory = lake.table_dir(group, table)
    return scan_parts(day_parts(directory, days) or [directory / SCHEMA_PART])


def validate(
    raw: pl.LazyFrame,
    spec: DatasetSpec,
    lake: Lake,
    *,
    parents: Mapping[str, pl.LazyFrame],
    catalog: Mapping[str, DatasetSpec],
    policy: str,
    days: list[date] | None = None,
    history_k: float = 3.5,
    today: date | None = None,
    keep_versions_hours: float = KEEP_VERSIONS_HOURS,
) -> ValidationOutcome:
    """Validate ``raw`` rows of ``spec`` and write ``validated_<name>`` and
    ``quarantined_<name>`` to ``lake`` (only ``days`` of them when partitioned).

    ``parents``: the raw rows of each of ``parent_tables(spec, catalog)``; ``policy``: block,
    warn or auto_fix; ``history_k``: how many robust std devs from its history a metric may
    move. The schema seen is kept in the lake's state, for the next run's drift check.

    The validated rows are a new version of the table (``assets.core.versions``), audited by
    the blocking gates and published only when none of them failed with error severity; until
    then readers keep the published version. Versions older than ``keep_versions_hours`` that
    are not published are removed. The quarantine is published regardless.
    """
    started = time.perf_counter()
    now = datetime.now(UTC)
    today = today or now.date()
    validated, quarantined = table_names(spec)
    version = new_version(lake.table_dir(GROUP, validated), now)
    auto_fix = policy == "auto_fix"
    parent_keys = {
        fk.references: parents[fk.references]
        for fk in spec.foreign_keys
        if fk.references in parents
    }
    lookups = {
        rule.references: trusted_reference(
            parents[rule.references], catalog[rule.references], rule.ref_column, today
        )
        for rule in spec.rules
        if isinstance(rule, LookupCompareRule) and rule.references in parents
    }
    prior_keys = _other_days_keys(lake, validated, days, spec) if days is not None else None
    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        parts = flag_rows(
            raw,
            spec,
            parent_keys=parent_keys,
            lookups=lookups,
            today=today,
            auto_fix=auto_fix,
            scratch=Path(tmp) / "outcomes.parquet",
            prior_keys=prior_keys,
        )
        # The flagged frame stays a query over the raw rows and the scratch file: each consumer
        # (fences, metrics, the two tables) reads the columns it needs, which costs less than
        # writing all 10M flagged rows to scratch again (validate_orders at large: 22.2 s to
        # 16.5 s). Only the passing part holds clean rows, the fences' input.
        raw_rows = int(raw.select(pl.len()).collect().item())
        fences = outlier_fences(parts.passing, spec, rows=raw_rows)
        parts = parts.map(lambda part: flag_outliers(part, spec, fences, cap=auto_fix))
        report = measure(parts.rows(), spec, parts.warned)
        daily = measure_by(parts.rows(), spec, PARTITION, parts.warned) if days else {}
        good, bad = outcome_tables(parts, spec, cap=auto_fix)
        written = _write_version(version, good, days)
        if days is None:
            lake.replace(GROUP, quarantined, bad)
        else:
            lake.ensure_schema_part(GROUP, quarantined, bad.head(0).collect())
            write_days(bad, lake.table_dir(GROUP, quarantined), days)
        gate_list = gates(report, spec)
        gate_rows = gate_failures(
            ruled_rows(parts, spec, cap=auto_fix), spec, [g for g in gate_list if not g.warn]
        )
        if parts.warned is not None:
            gate_rows |= gate_failures(parts.warned, spec, [g for g in gate_list if g.warn])
        outlier_keys = _outlier_examples(parts.passing, spec)
    seconds = time.perf_counter() - started

    checks = gate_outcomes(gate_list, gate_rows, "WARN" if policy == "warn" else "ERROR")
    checks = with_days(checks, daily, spec) if daily else checks
    warnings = [
        f"Gate {g.name} failed: {g.value:.4g} against threshold {g.threshold:g} (policy {policy})."
        for g in gate_list
        if not g.passed
    ]
    validated_now = scan_parts([p for p in written if p.name != SCHEMA_PART] or written)
    quarantined_now = scan_days(lake, GROUP, quarantined, days)
    # pandera (with pandas) takes over a second to import; loading the code location does not
    # need it, only a validation step does.
    from assets.validation.contract_schema import contract_failures

    with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
        failures = contract_failures(validated_now, spec, today, scratch_dir=Path(tmp))
    checks.append(contract_outcome(spec, failures))

    drift, first_run = _schema_drift(lake, spec, raw)
    history = load_history(lake.table_dir(GROUP, HISTORY_TABLE), spec.name)
    if daily:
        # Each day against the days before it, not the run against runs of other lengths.
        anomalies, points = day_anomalies(history, daily, history_k)
    else:
        past = run_history(history)
        anomalies = metric_anomalies(past, report.metrics(), k=history_k)
        points = past["run_id"].n_unique() if "run_id" in past.columns else 0
    warnings += [
        f"{spec.name}: metric {a['metric']} = {a['value']:.4g}"
        + (f" on {a['day']}" if "day" in a else "")
        + f" is {a['robust_z']} robust std devs from its median {a['median']:.4g} over "
        + f"{a['points']} {'days' if 'day' in a else 'runs'}."
        for a in anomalies
    ]
    checks += warning_outcomes(
        spec,
        report,
        drift=drift,
        first_run=first_run,
        anomalies=anomalies,
        history_points=points,
        k=history_k,
        fences=fences,
        outlier_keys=outlier_keys,
    )

    metadata = report_metadata(report, policy)
    # Failed gates (whatever the policy made their severity) and failed warning checks, by
    # name, so alerting can read them off the materialization.
    gate_checks = {g.name for g in gate_list if not g.warn} | {contract_check_name(spec)}
    failed = sorted(c.name for c in checks if not c.passed)
    metadata["gates_failed"] = [c for c in failed if c in gate_checks]
    metadata["checks_warned"] = [c for c in failed if c not in gate_checks]
    # What blocks downstream in Dagster (a blocking check failing with error severity) is
    # exactly what holds the version back.
    held = [
        c.name for c in checks if c.name in gate_checks and not c.passed and c.severity == "ERROR"
    ]
    pointer = hold_back(version, held, now) if held else publish(version, written, days, now)
    metadata["published_version"] = pointer["version"]
    metadata["held_back_version"] = version.name if held else None
    metadata["held_back_because"] = held
    prune_versions(version.table_dir, keep_versions_hours, now)
    quarantine_metadata: dict[str, Any] = {}
    if days is not None:
        span = f"{days[0]}...{days[-1]}"
        metadata["partition_range"] = span
        metadata["quality_by_day"] = day_summary(daily, spec)
        quarantine_metadata["partition_range"] = span
    return ValidationOutcome(
        policy=policy,
        report=report,
        checks=checks,
        validated=validated_now,
        quarantined=quarantined_now,
        seconds=seconds,
        metadata=metadata,
        quarantine_metadata=quarantine_metadata,
        warnings=warnings,
        daily=daily,
    )


def report_metadata(report: QualityReport, policy: str) -> dict[str, Any]:
    """The quality report as the validated table's metadata: numbers the UI plots, the fixes
    and outliers by name, and tables of rule failures and completeness."""
    rules = pl.DataFrame(
        {"rule": list(report.rule_failures), "rows": list(report.rule_failures.values())},
        schema={"rule": pl.String, "rows": pl.Int64},
    )
    completeness = pl.DataFrame(
        {"column": list(report.completeness), "completeness": list(report.completeness.values())}
    )
    return {
        "policy": policy,
        "quality_score": float(report.overall_score),
        "validity": float(report.validity),
        "consistency": float(report.consistency),
        "required_completeness": float(report.required_completeness[1]),
        "key_uniqueness": float(min(report.uniqueness.values(), default=1.0)),
        "rows_valid": report.valid_rows,
        "rows_quarantined": report.quarantined_rows,
        "exact_duplicates_removed": report.exact_duplicates,
        "fixes": report.fixes,
        "rows_warned_by_rule": report.warnings,
        "outliers_flagged": report.outliers,
        "rule_failures": rules if rules.height else Markdown("No rule failed."),
        "completeness_by_column": completeness,
    }


def _other_days_keys(
    lake: Lake, table: str, days: list[date], spec: DatasetSpec
) -> pl.LazyFrame | None:
    """Keys of the validated rows on every day outside ``days``."""
    if not spec.key:
        return None
    mine = {d.isoformat() for d in days}
    others = [p for p in lake.parts(GROUP, table) if day_of(str(p)) not in mine | {None}]
    if not others:
        return None
    return scan_parts(others).select(spec.key)


def _write_version(version: Version, rows: pl.LazyFrame, days: list[date] | None) -> list[LakePath]:
    """The validated rows as a new version (all of them, or only ``days``); returns its files."""
    if days is None:
        target = version.directory / FULL_PART
        sink_parquet_atomic(rows, target)
        return [target]
    schema = version.directory / SCHEMA_PART
    sink_parquet_atomic(rows.head(0).collect(), schema)
    write_days(rows, version.directory, days)
    return [schema, *day_parts(version.directory, days)]


def _outlier_examples(flagged: pl.LazyFrame, spec: DatasetSpec) -> list[str]:
    """The first ten outlier rows, by key (no key: by file and row number), as people see it."""
    schema = flagged.collect_schema()
    if spec.key:
        key = spec.key
    elif "_row_number" in schema:  # no key: a row is where it came from
        key = ["_source_file", "_row_number"]
    else:
        key = data_columns(schema)[:1]
    rows = flagged.filter(pl.col(OUTLIERS).list.len() > 0).select(key).head(10).collect()
    return shown_keys(rows, spec)


def _schema_drift(
    lake: Lake, spec: DatasetSpec, raw: pl.LazyFrame
) -> tuple[dict[str, list[str]], bool]:
    """Columns added, removed or retyped since the schema kept by the last run (and whether
    there was one); keeps this run's schema for the next."""
    current = {
        c: str(t)
        for c, t in raw.collect_schema().items()
        if not c.startswith("_") or c == ERRORS_COLUMN
    }
    state = lake.state_path(GROUP, f"{spec.name}_schema.json")
    previous = json.loads(state.read_text()) if state.exists() else None
    drift = schema_drift(previous, current)
    # Unique temp names: concurrent runs (several partition ranges) write these same files.
    atomic_write_bytes(
        lake.state_path(GROUP, f"{spec.name}_drift.json"),
        json.dumps({"first_run": previous is None, **drift}).encode(),
    )
    atomic_write_bytes(state, json.dumps(current, indent=1, sort_keys=True).encode())
    return drift, previous is None
