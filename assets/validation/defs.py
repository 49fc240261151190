"""Validation wiring: ``validated_<dataset>`` and ``quarantined_<dataset>`` with their gates."""

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Literal

import dagster as dg
from pydantic import Field

from assets.common.inputs import Reads, Table
from assets.common.metadata import column_schema, table_metadata
from assets.core.privacy import mask_text, pii_masks
from assets.core.spec import DatasetSpec
from assets.ingestion.partitions import partition_keys_between
from assets.validation.checks import check_result, check_specs, metadata_values
from assets.validation.daily import day_metadata
from assets.validation.history import HISTORY_TABLE, append_history
from assets.validation.validate import (
    GROUP,
    INGESTION,
    parent_tables,
    scan_days,
    table_names,
    validate,
)
from resources import LakeResource, WarehouseResource


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


def validation_reads(spec: DatasetSpec, catalog: dict[str, DatasetSpec]) -> Reads:
    """The raw tables one dataset's validation reads: its own and those of the parents its
    foreign keys and lookups compare with.

    It also reads its own earlier days (the keys they hold) and its own parts of
    ``quality_history``: tables it writes, so no dependency of their own.
    """
    names = sorted({spec.name, *parent_tables(spec, catalog)})
    return Reads(*(Table(INGESTION, f"raw_{n}") for n in names))


def build_validation_asset(
    spec: DatasetSpec,
    catalog: dict[str, DatasetSpec],
    default_policy: str | None = None,
    partitions_def: dg.DailyPartitionsDefinition | None = None,
) -> dg.AssetsDefinition:
    name = spec.name
    partitioned = spec.partitioning is not None and partitions_def is not None
    validated, quarantined = table_names(spec)
    reads = validation_reads(spec, catalog)
    parents = parent_tables(spec, catalog)
    policy_default = default_policy or spec.policy
    descriptions = {c.name: c.description for c in spec.columns}
    pii = pii_masks(spec)

    @dg.multi_asset(
        name=f"validate_{name}",
        specs=[
            dg.AssetSpec(
                validated,
                group_name=GROUP,
                deps=reads.deps,
                description=f"Rows of {name} that pass every rule of the contract; the input of "
                "every later stage.",
                owners=[spec.owner],
                kinds={"polars", "pandera", "duckdb"},
                metadata={"dagster/column_schema": column_schema(spec.polars_schema, spec=spec)},
            ),
            dg.AssetSpec(
                quarantined,
                group_name=GROUP,
                deps=reads.deps,
                description=f"Rows of {name} that broke a rule, with their original values, the "
                "rules (_rules) and a readable reason (_reason).",
                owners=[spec.owner],
                kinds={"polars", "duckdb"},
            ),
        ],
        check_specs=check_specs(spec, validated),
        can_subset=False,
        partitions_def=partitions_def if partitioned else None,
    )
    def _validate(
        context: dg.AssetExecutionContext,
        config: ValidationConfig,
        lake: LakeResource,
        warehouse: WarehouseResource,
    ):
        """Flag every raw row against the dataset's contract, write the rows that pass and the
        quarantined ones, and judge the gates and warnings."""
        span = context.partition_key_range if partitioned else None
        days = partition_keys_between(span.start, span.end) if span else None
        raw = reads[f"raw_{name}"]
        outcome = validate(
            scan_days(lake, raw.group, raw.name, days),
            spec,
            lake,
            parents={p: reads.scan(lake, f"raw_{p}") for p in parents},
            catalog=catalog,
            policy=policy_default if config.policy == "default" else config.policy,
            days=days,
            history_k=config.history_k,
            keep_versions_hours=lake.keep_versions_hours,
        )
        for message in outcome.warnings:
            context.log.warning(mask_text(message))
        append_history(
            lake.table_dir(GROUP, HISTORY_TABLE),
            name,
            context.run.run_id,
            outcome.report.metrics(),
            datetime.now(UTC),
            by_day={day: r.metrics() for day, r in outcome.daily.items()},
        )
        # A view shows the published version; with none published yet there is nothing to show.
        shown = [validated] if lake.exists(GROUP, validated) else []
        lake.register(warehouse, GROUP, *shown, quarantined, HISTORY_TABLE)

        rows_in, seconds = outcome.report.rows_in, outcome.seconds
        validated_meta = table_metadata(
            outcome.validated,
            rows_in=rows_in,
            seconds=seconds,
            descriptions=descriptions,
            location=str(lake.table_dir(GROUP, validated)),
            pii=pii,
            spec=spec,
        )
        quarantine_meta = table_metadata(
            outcome.quarantined,
            rows_in=rows_in,
            seconds=seconds,
            location=str(lake.table_dir(GROUP, quarantined)),
            pii=pii,
        )
        context.log.info(f"{name}: {outcome.summary}")
        for day, meta in day_metadata(outcome.daily, spec).items():
            # Each day's materialization shows that day's quality, not the whole range's.
            context.add_asset_metadata(
                metadata_values(meta), asset_key=validated, partition_key=day
            )
        yield dg.MaterializeResult(
            asset_key=validated, metadata=validated_meta | metadata_values(outcome.metadata)
        )
        yield dg.MaterializeResult(
            asset_key=quarantined,
            metadata=quarantine_meta | metadata_values(outcome.quarantine_metadata),
        )
        yield from (check_result(c) for c in outcome.checks)

    return _validate


def build_validation_assets(
    catalog: dict[str, DatasetSpec],
    default_policy: str | None = None,
    partitions_def: dg.DailyPartitionsDefinition | None = None,
) -> list[dg.AssetsDefinition]:
    return [
        build_validation_asset(spec, catalog, default_policy, partitions_def)
        for _, spec in sorted(catalog.items())
    ]


def validation_config_classes(datasets: Iterable[str]) -> dict[str, type[dg.Config]]:
    """The ``dg.Config`` class of each validation op, by op name (for the launch-time check)."""
    return {f"validate_{d}": ValidationConfig for d in datasets}
