"""Validation wiring: ``validated_<dataset>`` and ``quarantined_<dataset>`` with their gates."""

import json
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import dagster as dg
import polars as pl
from pydantic import Field

from assets.common.metadata import column_schema, markdown_preview, table_metadata
from assets.core.columns import ERRORS_COLUMN
from assets.core.spec import DatasetSpec, LookupCompareRule
from assets.core.storage import (
    SCHEMA_PART,
    LakePath,
    atomic_write_bytes,
    read_parquet,
    scan_parts,
    sink_parquet_atomic,
)
from assets.ingestion.partitions import day_parts, partition_keys_between, write_days
from assets.validation.contract_schema import contract_failures
from assets.validation.flagging import flag_rows
from assets.validation.history import history_rows, metric_anomalies, schema_drift
from assets.validation.outliers import flag_outliers, outlier_fences
from assets.validation.quality import (
    Gate,
    QualityReport,
    gate_failures,
    gates,
    measure,
    outcome_tables,
    ruled_rows,
)
from assets.validation.rules import OUTLIERS, data_columns, trusted_reference
from resources import LakeResource, WarehouseResource

GROUP = "validation"
INGESTION = "ingestion"
HISTORY_TABLE = "quality_history"


class ValidationConfig(dg.Config):
    """Run-time choices for one dataset's validation."""

    policy: Literal["default", "block", "warn", "auto_fix"] = Field(
        default="default",
        description="default: the dataset spec's policy (or PIPELINE_QUALITY_POLICY); block: a "
        "failed gate stops downstream assets; warn: record and continue; auto_fix: deduplicate, "
        "impute required values (median/mode), cap outliers, quarantine orphans, then gate.",
    )
    history_k: float = Field(
        default=3.5, gt=0, description="Flag a metric more than k robust std devs from its history."
    )


def _history_dir(lake: LakeResource) -> LakePath:
    return lake.table_dir(GROUP, HISTORY_TABLE)


def _load_history(lake: LakeResource, dataset: str) -> pl.DataFrame:
    parts = sorted(_history_dir(lake).glob(f"part-{dataset}-*.parquet"))
    if not parts:
        return pl.DataFrame(schema={"metric": pl.String, "value": pl.Float64})
    return pl.concat([read_parquet(p) for p in parts], how="diagonal_relaxed")


def _gate_result(
    gate: Gate, severity: dg.AssetCheckSeverity, failing_rows: int, examples: list[str]
) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=gate.name,
        asset_key=None,
        passed=gate.passed,
        severity=severity,
        description=gate.description,
        metadata={
            "value": dg.MetadataValue.float(round(gate.value, 6)),
            "threshold": dg.MetadataValue.float(gate.threshold),
            "failing_rows": dg.MetadataValue.int(failing_rows),
            "failing_rows_sample": dg.MetadataValue.json(examples),
        },
    )


def _report_metadata(report: QualityReport, policy: str) -> dict:
    rules = pl.DataFrame(
        {"rule": list(report.rule_failures), "rows": list(report.rule_failures.values())},
        schema={"rule": pl.String, "rows": pl.Int64},
    )
    completeness = pl.DataFrame(
        {"column": list(report.completeness), "completeness": list(report.completeness.values())}
    )
    return {
        "policy": policy,
        "quality_score": dg.MetadataValue.float(report.overall_score),
        "validity": dg.MetadataValue.float(report.validity),
        "consistency": dg.MetadataValue.float(report.consistency),
        "required_completeness": dg.MetadataValue.float(report.required_completeness[1]),
        "key_uniqueness": dg.MetadataValue.float(min(report.uniqueness.values(), default=1.0)),
        "rows_valid": dg.MetadataValue.int(report.valid_rows),
        "rows_quarantined": dg.MetadataValue.int(report.quarantined_rows),
        "exact_duplicates_removed": dg.MetadataValue.int(report.exact_duplicates),
        "fixes": dg.MetadataValue.json(report.fixes),
        "outliers_flagged": dg.MetadataValue.json(report.outliers),
        "rule_failures": dg.MetadataValue.md(
            markdown_preview(rules) if rules.height else "No rule failed."
        ),
        "completeness_by_column": dg.MetadataValue.md(
            markdown_preview(completeness, max_columns=2)
        ),
    }


def gate_names(spec: DatasetSpec) -> list[str]:
    names = [
        f"{spec.name}_required_fields_complete",
        f"{spec.name}_keys_unique",
        f"{spec.name}_validity_at_least_threshold",
        f"{spec.name}_quality_score_at_least_threshold",
    ]
    return names + [f"{spec.name}_reference_{fk.references}" for fk in spec.foreign_keys]


def build_validation_asset(
    spec: DatasetSpec,
    catalog: dict[str, DatasetSpec],
    default_policy: str | None = None,
    partitions_def: dg.DailyPartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    name = spec.name
    partitioned = spec.partitioning is not None and partitions_def is not None
    validated, quarantined = f"validated_{name}", f"quarantined_{name}"
    parents = sorted({fk.references for fk in spec.foreign_keys if fk.references in catalog})
    lookup_parents = sorted(
        {
            r.references
            for r in spec.rules
            if isinstance(r, LookupCompareRule) and r.references in catalog
        }
    )
    raw_deps = [dg.AssetKey(f"raw_{n}") for n in sorted({name, *parents, *lookup_parents})]
    policy_default = default_policy or spec.policy
    descriptions = {c.name: c.description for c in spec.columns}
    gate_descriptions = {g.name: g.description for g in gates(_empty_report(spec), spec)}
    blocking = [
        dg.AssetCheckSpec(
            g, asset=validated, blocking=True, description=f"Gate: {gate_descriptions[g]}"
        )
        for g in gate_names(spec)
    ]
    blocking.append(
        dg.AssetCheckSpec(
            f"{name}_contract_conforms",
            asset=validated,
            blocking=True,
            description="The validated rows pass the dataset's pandera schema (Polars backend), "
            "an independent implementation of the same contract.",
        )
    )
    warnings = [
        dg.AssetCheckSpec(
            f"{name}_schema_unchanged",
            asset=validated,
            description="No column was added, removed or retyped since the last materialization.",
        ),
        dg.AssetCheckSpec(
            f"{name}_no_outliers",
            asset=validated,
            description="No value is a statistical outlier (IQR fences or z-score); outliers are "
            "flagged, not dropped.",
        ),
        dg.AssetCheckSpec(
            f"{name}_row_count_within_history",
            asset=validated,
            description="The input row count is within k robust std devs (MAD) of its history.",
        ),
        dg.AssetCheckSpec(
            f"{name}_quality_metrics_stable",
            asset=validated,
            description="No quality metric moved more than k robust std devs (MAD) from its "
            "own history.",
        ),
    ]

    @dg.multi_asset(
        name=f"validate_{name}",
        specs=[
            dg.AssetSpec(
                validated,
                group_name=GROUP,
                deps=raw_deps,
                description=f"Rows of {name} that pass every rule of the contract; the input of "
                "every later stage.",
                owners=[spec.owner],
                kinds={"polars", "pandera", "duckdb"},
                metadata={"dagster/column_schema": column_schema(spec.polars_schema, descriptions)},
            ),
            dg.AssetSpec(
                quarantined,
                group_name=GROUP,
                deps=raw_deps,
                description=f"Rows of {name} that broke a rule, with their original values, the "
                "rules (_rules) and a readable reason (_reason).",
                owners=[spec.owner],
                kinds={"polars", "duckdb"},
            ),
        ],
        check_specs=[*blocking, *warnings],
        can_subset=False,
        partitions_def=partitions_def if partitioned else None,
    )
    def _validate(
        context: dg.AssetExecutionContext,
        config: ValidationConfig,
        lake: LakeResource,
        warehouse: WarehouseResource,
    ):
        started = time.perf_counter()
        policy = policy_default if config.policy == "default" else config.policy
        today = datetime.now(UTC).date()
        days = None
        prior_keys = None
        if partitioned:
            key_range = context.partition_key_range
            days = partition_keys_between(key_range.start, key_range.end)
            raw = _scan_days(lake, INGESTION, f"raw_{name}", days)
            prior_keys = _other_days_keys(lake, validated, days, spec)
        else:
            raw = lake.scan(INGESTION, f"raw_{name}")
        parent_keys = {p: lake.scan(INGESTION, f"raw_{p}") for p in parents}
        lookups = {}
        for rule in spec.rules:
            if isinstance(rule, LookupCompareRule) and rule.references in lookup_parents:
                ref_spec = catalog[rule.references]
                lookups[rule.references] = trusted_reference(
                    lake.scan(INGESTION, f"raw_{rule.references}"), ref_spec, rule.ref_column, today
                )
        auto_fix = policy == "auto_fix"
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
            # The flagged frame stays a query over the raw rows and the scratch file: each
            # consumer (fences, metrics, the two tables) reads the columns it needs, which
            # costs less than writing all 10M flagged rows to scratch again (validate_orders
            # at large: 22.2 s to 16.5 s). Only the passing part holds clean rows, the fences'
            # input.
            raw_rows = int(raw.select(pl.len()).collect().item())
            fences = outlier_fences(parts.passing, spec, rows=raw_rows)
            parts = parts.map(lambda part: flag_outliers(part, spec, fences, cap=auto_fix))
            flagged = parts.rows()
            report = measure(flagged, spec)
            good, bad = outcome_tables(parts, spec, cap=auto_fix)
            if days is None:
                lake.replace(GROUP, validated, good)
                lake.replace(GROUP, quarantined, bad)
            else:
                for table, rows in ((validated, good), (quarantined, bad)):
                    lake.ensure_schema_part(GROUP, table, rows.head(0).collect())
                    write_days(rows, lake.table_dir(GROUP, table), days)
            gate_list = gates(report, spec)
            gate_rows = gate_failures(ruled_rows(parts, spec, cap=auto_fix), spec, gate_list)
            outlier_keys = _outlier_examples(parts.passing, spec)
        seconds = time.perf_counter() - started

        severity = dg.AssetCheckSeverity.WARN if policy == "warn" else dg.AssetCheckSeverity.ERROR
        checks = [_gate_result(g, severity, *gate_rows[g.name]) for g in gate_list]
        for g in gate_list:
            if not g.passed:
                context.log.warning(
                    f"Gate {g.name} failed: {g.value:.4g} against threshold {g.threshold:g} "
                    f"(policy {policy})."
                )
        validated_now = _scan_days(lake, GROUP, validated, days)
        quarantined_now = _scan_days(lake, GROUP, quarantined, days)
        with tempfile.TemporaryDirectory(dir=lake.scratch_dir()) as tmp:
            failures = contract_failures(validated_now, spec, today, scratch_dir=Path(tmp))
        checks.append(
            dg.AssetCheckResult(
                check_name=f"{name}_contract_conforms",
                passed=failures.height == 0,
                severity=dg.AssetCheckSeverity.ERROR,
                metadata={
                    "failure_cases": dg.MetadataValue.int(failures.height),
                    "sample": dg.MetadataValue.md(
                        markdown_preview(failures.head(10).select(pl.all().cast(pl.String)))
                        if failures.height
                        else "none"
                    ),
                },
            )
        )
        checks += _warning_checks(
            context, lake, spec, report, raw, config.history_k, fences, outlier_keys
        )
        _append_history(context, lake, spec, report)
        lake.register(warehouse, GROUP, validated, quarantined, HISTORY_TABLE)

        validated_meta = table_metadata(
            validated_now,
            rows_in=report.rows_in,
            seconds=seconds,
            descriptions=descriptions,
            location=str(lake.table_dir(GROUP, validated)),
        )
        validated_meta.update(_report_metadata(report, policy))
        # Failed gates and checks by name, so alerting can read them off the materialization.
        # Failed gates (whatever the policy made their severity) and failed warning checks, by
        # name, so alerting can read them off the materialization.
        gate_checks = {g.name for g in gate_list} | {f"{name}_contract_conforms"}
        failed = sorted(c.check_name or "" for c in checks if not c.passed)
        validated_meta["gates_failed"] = dg.MetadataValue.json(
            [c for c in failed if c in gate_checks]
        )
        validated_meta["checks_warned"] = dg.MetadataValue.json(
            [c for c in failed if c not in gate_checks]
        )
        quarantine_meta = table_metadata(
            quarantined_now,
            rows_in=report.rows_in,
            seconds=seconds,
            location=str(lake.table_dir(GROUP, quarantined)),
        )
        if days is not None:
            span = f"{days[0]}...{days[-1]}"
            validated_meta["partition_range"] = span
            quarantine_meta["partition_range"] = span
        context.log.info(
            f"{name}: {report.rows_in:,} rows in, {report.valid_rows:,} valid, "
            f"{report.quarantined_rows:,} quarantined, {report.exact_duplicates:,} exact "
            f"duplicates removed; quality score {report.overall_score:.1f} (policy {policy})."
        )
        yield dg.MaterializeResult(asset_key=validated, metadata=validated_meta)
        yield dg.MaterializeResult(asset_key=quarantined, metadata=quarantine_meta)
        yield from checks

    return _validate


def _scan_days(lake: LakeResource, group: str, table: str, days: list | None) -> pl.LazyFrame:
    """The whole table, or only the given days of a partitioned one (its schema part if none)."""
    if days is None:
        return lake.scan(group, table)
    directory = lake.table_dir(group, table)
    return scan_parts(day_parts(directory, days) or [directory / SCHEMA_PART])


def _other_days_keys(
    lake: LakeResource, table: str, days: list, spec: DatasetSpec
) -> pl.LazyFrame | None:
    """Keys of the validated rows on every day outside ``days``."""
    if not spec.key:
        return None
    directory = lake.table_dir(GROUP, table)
    mine = {p.parent for p in day_parts(directory, days)}
    others = [p for p in directory.glob("date=*/part-*.parquet") if p.parent not in mine]
    if not others:
        return None
    return scan_parts(sorted(others)).select(spec.key)


def _empty_report(spec: DatasetSpec) -> QualityReport:
    """A perfect report, used only to render gate descriptions at definition time."""
    return QualityReport(
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


def _outlier_examples(flagged: pl.LazyFrame, spec: DatasetSpec) -> list[str]:
    key = spec.key[0] if spec.key else data_columns(flagged.collect_schema())[0]
    return (
        flagged.filter(pl.col(OUTLIERS).list.len() > 0)
        .select(pl.col(key).cast(pl.String))
        .head(10)
        .collect()
        .to_series()
        .to_list()
    )


def _warning_checks(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    spec: DatasetSpec,
    report: QualityReport,
    raw: pl.LazyFrame,
    k: float,
    fences: Mapping[str, Mapping[str, float]],
    outlier_keys: list[str],
) -> list[dg.AssetCheckResult]:
    """The WARN checks; ``fences``: what each outlier column was judged by, ``outlier_keys``: a
    sample of the flagged rows' keys."""
    name = spec.name
    warn = dg.AssetCheckSeverity.WARN
    current_schema = {
        c: str(t)
        for c, t in raw.collect_schema().items()
        if not c.startswith("_") or c == ERRORS_COLUMN
    }
    state = lake.state_path(GROUP, f"{name}_schema.json")
    previous = json.loads(state.read_text()) if state.exists() else None
    drift = schema_drift(previous, current_schema)
    drifted = any(drift.values())
    # Unique temp names: concurrent runs (several partition ranges) write these same files.
    atomic_write_bytes(
        lake.state_path(GROUP, f"{name}_drift.json"),
        json.dumps({"first_run": previous is None, **drift}).encode(),
    )
    atomic_write_bytes(state, json.dumps(current_schema, indent=1, sort_keys=True).encode())
    history = _load_history(lake, name)
    current = report.metrics()
    anomalies = metric_anomalies(history, current, k=k)
    count_anomaly = [a for a in anomalies if a["metric"] == "rows_in"]
    other = [a for a in anomalies if a["metric"] != "rows_in"]
    n_outliers = sum(report.outliers.values())
    for a in anomalies:
        context.log.warning(
            f"{name}: metric {a['metric']} = {a['value']:.4g} is {a['robust_z']} robust std devs "
            f"from its median {a['median']:.4g} over {a['points']} runs."
        )
    return [
        dg.AssetCheckResult(
            check_name=f"{name}_schema_unchanged",
            passed=not drifted,
            severity=warn,
            metadata={"drift": dg.MetadataValue.json(drift), "first_run": previous is None},
        ),
        dg.AssetCheckResult(
            check_name=f"{name}_no_outliers",
            passed=n_outliers == 0,
            severity=warn,
            metadata={
                "outliers": dg.MetadataValue.int(n_outliers),
                "by_column": dg.MetadataValue.json(report.outliers),
                "sample_keys": dg.MetadataValue.json(outlier_keys),
                "fences": dg.MetadataValue.json(
                    {c: {m: round(v, 6) for m, v in f.items()} for c, f in fences.items()}
                ),
                "method": spec.outliers.method if spec.outliers else "none",
                "z_threshold": dg.MetadataValue.float(spec.outliers.z_threshold)
                if spec.outliers
                else dg.MetadataValue.null(),
            },
        ),
        dg.AssetCheckResult(
            check_name=f"{name}_row_count_within_history",
            passed=not count_anomaly,
            severity=warn,
            metadata={
                "rows_in": dg.MetadataValue.int(report.rows_in),
                "anomaly": dg.MetadataValue.json(count_anomaly),
                "threshold_robust_z": dg.MetadataValue.float(k),
            },
        ),
        dg.AssetCheckResult(
            check_name=f"{name}_quality_metrics_stable",
            passed=not other,
            severity=warn,
            metadata={
                "anomalies": dg.MetadataValue.json(other),
                "threshold_robust_z": dg.MetadataValue.float(k),
                "history_points": dg.MetadataValue.int(
                    history["run_id"].n_unique() if "run_id" in history.columns else 0
                ),
            },
        ),
    ]


def _append_history(
    context: dg.AssetExecutionContext,
    lake: LakeResource,
    spec: DatasetSpec,
    report: QualityReport,
) -> None:
    run_id = context.run.run_id
    rows = history_rows(run_id, spec.name, report.metrics(), datetime.now(UTC))
    sink_parquet_atomic(rows, _history_dir(lake) / f"part-{spec.name}-{run_id}.parquet")


def build_validation_assets(
    catalog: dict[str, DatasetSpec],
    default_policy: str | None = None,
    partitions_def: dg.DailyPartitionsDefinition | None = None,
) -> list[dg.AssetsDefinition]:
    return [
        build_validation_asset(spec, catalog, default_policy, partitions_def)
        for _, spec in sorted(catalog.items())
    ]
