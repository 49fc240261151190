"""Validation checks as Dagster sees them: their specs, and results built from plain outcomes."""

from typing import Any

import dagster as dg
import polars as pl

from assets.common.metadata import markdown_preview, masked_metadata
from assets.core.spec import DatasetSpec
from assets.validation.gates import (
    CheckOutcome,
    Markdown,
    contract_check_name,
    declared_gates,
)

SEVERITY = {"ERROR": dg.AssetCheckSeverity.ERROR, "WARN": dg.AssetCheckSeverity.WARN}


def check_specs(spec: DatasetSpec, asset: str) -> list[dg.AssetCheckSpec]:
    """The blocking gates and contract check of ``asset``, then its warnings."""
    name = spec.name
    blocking = [
        dg.AssetCheckSpec(
            g.name,
            asset=asset,
            blocking=not g.warn,
            description=f"{'Warning' if g.warn else 'Gate'}: {g.description}",
        )
        for g in declared_gates(spec)
    ]
    blocking.append(
        dg.AssetCheckSpec(
            contract_check_name(spec),
            asset=asset,
            blocking=True,
            description="The validated rows pass the dataset's pandera schema (Polars backend), "
            "an independent implementation of the same contract.",
        )
    )
    warnings = [
        dg.AssetCheckSpec(
            f"{name}_schema_unchanged",
            asset=asset,
            description="No column was added, removed or retyped since the last materialization.",
        ),
        dg.AssetCheckSpec(
            f"{name}_no_outliers",
            asset=asset,
            description="No value is a statistical outlier (IQR fences or z-score); outliers are "
            "flagged, not dropped.",
        ),
        dg.AssetCheckSpec(
            f"{name}_row_count_within_history",
            asset=asset,
            description="The input row count is within k robust std devs (MAD) of its history.",
        ),
        dg.AssetCheckSpec(
            f"{name}_quality_metrics_stable",
            asset=asset,
            description="No quality metric moved more than k robust std devs (MAD) from its "
            "own history.",
        ),
    ]
    return blocking + warnings


def metadata_value(value: Any) -> Any:
    """A plain metadata value (see ``gates``) as Dagster records it. Text and booleans go as
    they are: Dagster takes them as text and boolean values."""
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(str(value))
    if isinstance(value, pl.DataFrame):
        return dg.MetadataValue.md(markdown_preview(value))
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if value is None:
        return dg.MetadataValue.null()
    return dg.MetadataValue.json(value)


def metadata_values(metadata: dict[str, Any]) -> dict[str, Any]:
    """Plain metadata as Dagster records it, with any e-mail address or phone number in its
    text masked (samples of personal columns are masked by ``gates`` already)."""
    return masked_metadata({k: metadata_value(v) for k, v in metadata.items()})


def check_result(outcome: CheckOutcome) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        check_name=outcome.name,
        passed=outcome.passed,
        severity=SEVERITY[outcome.severity],
        description=outcome.description,
        metadata=metadata_values(outcome.metadata),
    )
