"""Declarative pipelines wiring: one asset per ``pipeline:`` spec, with its checks in-asset.

The asset reads the validated tables it names, runs the compiled steps, writes the result to the
lake (``pipelines.<name>``, a DuckDB view too), evaluates its checks, and only when every blocking
check passed writes the declared destinations. A failed blocking check also holds back every
asset downstream of it, as the built-in gates do.
"""

import tempfile
import time
from pathlib import Path
from typing import Any

import dagster as dg
import polars as pl

from assets.common.inputs import Reads, Table
from assets.common.metadata import column_schema
from assets.common.postgres import publish_frame
from assets.common.publish import publish_table
from assets.core.spec import DatasetSpec
from assets.pipelines.checks import check_name, evaluate_checks
from assets.pipelines.spec import CheckSpec
from assets.pipelines.transform import CompiledPipeline, write_file
from resources import LakeResource, ReportsResource, WarehouseResource
from resources.postgres import PostgresResource

GROUP = "pipelines"
VALIDATION = "validation"


def _check_description(check: CheckSpec) -> str:
    body = getattr(check, check.kind).model_dump(exclude_none=True)
    gate = "Blocking" if check.blocking else "Warning"
    return f"{gate} {check.kind} check: " + ", ".join(f"{k}={v}" for k, v in body.items())


def _metadata_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(value)
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)  # dates and timestamps from observed ranges


def build_pipeline_asset(
    compiled: CompiledPipeline, catalog: dict[str, DatasetSpec]
) -> dg.AssetsDefinition:
    spec = compiled.spec
    name = spec.name
    reads = Reads(*(Table(VALIDATION, f"validated_{d}") for d in compiled.inputs))
    formats = {d.format for d in spec.destinations}
    resource_keys = {"lake", "warehouse", "reports"} | (
        {"postgres"} if "postgres" in formats else set()
    )
    check_specs = [
        dg.AssetCheckSpec(
            check_name(spec, c),
            asset=name,
            blocking=c.blocking,
            description=_check_description(c),
        )
        for c in spec.checks
    ]

    @dg.asset(
        name=name,
        group_name=GROUP,
        deps=reads.deps,
        owners=[spec.owner],
        kinds={"polars", "duckdb", *sorted(formats - {"duckdb"})},
        description=spec.description or f"Declarative pipeline from {compiled.path.name}.",
        check_specs=check_specs,
        required_resource_keys=resource_keys,
        metadata={
            "dagster/column_schema": column_schema(compiled.schema),
            "spec_file": dg.MetadataValue.path(str(compiled.path)),
        },
    )
    def _asset(context: dg.AssetExecutionContext):
        started = time.perf_counter()
        lake: LakeResource = context.resources.lake
        warehouse: WarehouseResource = context.resources.warehouse
        reports: ReportsResource = context.resources.reports

        def scan(dataset: str) -> pl.LazyFrame:
            # Only the declared columns: the schema the pipeline was compiled against.
            return reads.scan(lake, f"validated_{dataset}").select(
                list(catalog[dataset].column_map)
            )

        rows_in = int(scan(spec.source).select(pl.len()).collect().item())
        meta = publish_table(
            lake, warehouse, GROUP, name, compiled.build(scan), rows_in=rows_in, started=started
        )
        result = lake.scan(GROUP, name)
        outcomes = evaluate_checks(spec, result)
        blocked = [o.name for o in outcomes if o.severity == "ERROR" and not o.passed]
        written: dict[str, str] = {}
        if blocked:
            context.log.warning(
                f"Blocking check(s) failed: {', '.join(blocked)}; destinations not written."
            )
        else:
            for dest in spec.destinations:
                if dest.format == "postgres":
                    assert dest.table is not None
                    pg: PostgresResource = context.resources.postgres
                    with tempfile.TemporaryDirectory(prefix="pipeline-pg-") as tmp:
                        rows = publish_frame(pg, result, dest.table, Path(tmp))
                    written["postgres"] = f"{dest.table} ({rows} rows)"
                elif dest.format == "duckdb":
                    table = dest.table or f"exports.{name}"
                    group, _, tname = table.rpartition(".")
                    with lake.duckdb_source(GROUP, name) as source:
                        rows = warehouse.copy_table(group or "main", tname, source)
                    written["duckdb"] = f"{table} ({rows} rows)"
                else:
                    path = Path(reports.root) / "pipelines" / f"{name}.{dest.format}"
                    written[dest.format] = str(write_file(result, path, dest.format))
        meta["destinations"] = dg.MetadataValue.json(written)
        meta["destinations_held_back_by"] = dg.MetadataValue.json(blocked)
        yield dg.MaterializeResult(metadata=meta)
        for o in outcomes:
            yield dg.AssetCheckResult(
                check_name=o.name,
                passed=o.passed,
                severity=dg.AssetCheckSeverity[o.severity],
                metadata={k: _metadata_value(v) for k, v in o.metadata.items() if v is not None},
            )

    return _asset


def build_pipeline_assets(
    pipelines: list[CompiledPipeline], catalog: dict[str, DatasetSpec]
) -> list[dg.AssetsDefinition]:
    return [build_pipeline_asset(p, catalog) for p in pipelines]
