"""Features checks, declared on their assets: each blueprint asset's compatibility, and the
labelled churn features' freedom from data after the cutoff."""

import dagster as dg
import polars as pl

from assets.features.blueprints import Blueprint, BlueprintError, compatibility, sparse_fields
from assets.features.churn import ChurnSummary


def compatibility_spec(asset_name: str, blueprint: Blueprint) -> dg.AssetCheckSpec:
    """``<asset>_blueprint_compatible``: blocking, described by the fields it requires."""
    required = "; ".join(f"{i}: {', '.join(c)}" for i, c in blueprint.inputs.items())
    return dg.AssetCheckSpec(
        f"{asset_name}_blueprint_compatible",
        asset=asset_name,
        blocking=True,
        description=f"The inputs carry every field the {blueprint.name} blueprint requires "
        f"({required}), "
        f"each at least {blueprint.min_coverage:.0%} non-null.",
    )


def compatibility_result(
    blueprint: Blueprint, asset_name: str, frames: dict[str, pl.LazyFrame]
) -> dg.AssetCheckResult:
    """Coverage of every required field; a missing field fails the asset with its name."""
    try:
        coverage = compatibility(blueprint, frames)
    except BlueprintError as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    sparse = sparse_fields(coverage, blueprint.min_coverage)
    return dg.AssetCheckResult(
        check_name=f"{asset_name}_blueprint_compatible",
        passed=not sparse,
        metadata={
            "coverage": dg.MetadataValue.json(coverage),
            "threshold": dg.MetadataValue.float(blueprint.min_coverage),
            "too_sparse": dg.MetadataValue.json(sparse),
        },
    )


NO_FUTURE_DATA = dg.AssetCheckSpec(
    "churn_features_no_future_data",
    asset="churn_features",
    blocking=True,
    description="No feature uses activity after the cutoff (days since last activity >= 0).",
)


def no_future_data_result(summary: ChurnSummary) -> dg.AssetCheckResult:
    """Passes when no holdout customer's last activity lies after the cutoff."""
    return dg.AssetCheckResult(
        check_name=NO_FUTURE_DATA.name,
        passed=summary.no_future_data,
        metadata={
            "min_days_since_last_activity": dg.MetadataValue.float(
                summary.min_days_since_last_activity
            )
        },
    )
