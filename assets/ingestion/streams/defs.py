"""Wiring of ``kind: stream`` datasets: ``raw_<dataset>`` drains its consumer group in
micro-batches (``batch``) through the ``redis_stream`` or ``kafka_stream`` resource."""

import contextlib
from collections.abc import Iterator
from typing import Any

import dagster as dg
import polars as pl

from assets.common.metadata import column_schema, markdown_preview, table_metadata
from assets.core.privacy import mask_json, pii_masks
from assets.core.spec import DatasetSpec
from assets.ingestion.checks import fresh_check_result, fresh_check_spec, raw_freshness
from assets.ingestion.config import StreamIngestConfig
from assets.ingestion.conform import empty_table
from assets.ingestion.streams.batch import DrainReport, StreamBackend, drain
from resources import LakeResource, LandingZoneResource, WarehouseResource

GROUP = "ingestion"
RESOURCE_KEY = {"redis": "redis_stream", "kafka": "kafka_stream"}


@contextlib.contextmanager
def open_stream(spec: DatasetSpec, resources: Any) -> Iterator[StreamBackend]:
    """The dataset's consumer group through its backend's resource."""
    if spec.source.backend == "redis":
        from assets.ingestion.streams.redis_backend import RedisStream

        res = resources.redis_stream
        client = res.client()
        try:
            yield RedisStream.for_spec(client, spec, res.consumer_name)
        finally:
            client.close()
        return
    from assets.ingestion.streams.kafka_backend import KafkaStream

    stream = KafkaStream.for_spec(resources.kafka_stream.settings(), spec)
    try:
        yield stream
    finally:
        stream.close()


def stream_empty_table(spec: DatasetSpec) -> pl.DataFrame:
    """The contract's zero-row table with the stream lineage columns."""
    return empty_table(spec).with_columns(
        pl.lit(None, dtype=pl.String).alias("_stream"),
        pl.lit(None, dtype=pl.String).alias("_entry_id"),
        pl.lit(None, dtype=pl.Datetime("us")).alias("_arrived_at"),
    )


def _stream_metadata(report: DrainReport, lag_after: int) -> dict:
    meta = {
        "events_read": dg.MetadataValue.int(report.entries),
        "batches": dg.MetadataValue.int(len(report.batches)),
        "new_rows": dg.MetadataValue.int(report.rows),
        "flagged_rows": dg.MetadataValue.int(sum(b.flagged_rows for b in report.batches)),
        "poison_events": dg.MetadataValue.int(len(report.poison)),
        "already_landed": dg.MetadataValue.int(sum(b.already_landed for b in report.batches)),
        "events_per_s": dg.MetadataValue.float(
            round(report.entries / report.seconds, 1) if report.seconds else 0.0
        ),
        "lag_after": dg.MetadataValue.int(lag_after),
    }
    if report.batches:
        meta["entry_range"] = f"{report.batches[0].first}...{report.batches[-1].last}"
        rows = [
            {"first": b.first, "last": b.last, "rows": b.rows, "poison": len(b.poison)}
            for b in report.batches[:50]
        ]
        meta["batch_list"] = dg.MetadataValue.md(markdown_preview(pl.DataFrame(rows)))
    return meta


def build_stream_raw_asset(spec: DatasetSpec) -> dg.AssetsDefinition:
    """``raw_<name>`` of a stream source: new entries of the stream, typed, in the lake."""
    asset_name = f"raw_{spec.name}"
    src = spec.source
    check_name = f"{spec.name}_source_readable"
    descriptions = {c.name: c.description for c in spec.columns}
    where = f"the {src.backend} stream {src.stream!r} (group {src.consumer_group(spec.name)})"

    @dg.asset(
        name=asset_name,
        group_name=GROUP,
        description=f"{spec.description or spec.name} Raw events from {where}, in micro-batches "
        "typed to the contract; uncastable values keep their text in _ingest_errors.",
        owners=[spec.owner],
        kinds={"polars", "parquet", src.backend},
        metadata={
            "dataset": spec.name,
            "source": "stream",
            "dagster/column_schema": column_schema(spec.polars_schema, descriptions),
        },
        required_resource_keys={"landing", "lake", "warehouse", RESOURCE_KEY[src.backend]},
        tags={"pipeline/source": "stream"},
        check_specs=[
            dg.AssetCheckSpec(
                check_name,
                asset=asset_name,
                description=f"Every new entry of {where} was a JSON object within the size "
                "limit; poison entries are quarantined with their reason (warns, does not block).",
            ),
            *([fresh_check_spec(spec, asset_name)] if spec.freshness.column else []),
        ],
    )
    def _raw(context: dg.AssetExecutionContext, config: StreamIngestConfig) -> dg.MaterializeResult:
        lake: LakeResource = context.resources.lake
        landing: LandingZoneResource = context.resources.landing
        warehouse: WarehouseResource = context.resources.warehouse
        lake.ensure_schema_part(GROUP, asset_name, stream_empty_table(spec))
        with open_stream(spec, context.resources) as backend:
            report = drain(
                spec,
                backend,
                table_dir=lake.table_dir(GROUP, asset_name),
                quarantine_dir=landing.quarantine_dir(spec.name),
                max_events=config.max_events or src.max_events,
                batch_events=src.batch_events,
                log=context.log.info,
            )
            lag_after = backend.lag().total
        lake.register(warehouse, GROUP, asset_name)
        meta = table_metadata(
            lake.scan(GROUP, asset_name),
            rows_in=report.entries,
            seconds=report.seconds,
            descriptions=descriptions,
            location=str(lake.table_dir(GROUP, asset_name)),
            pii=pii_masks(spec),
        )
        meta.update(_stream_metadata(report, lag_after))
        check = dg.AssetCheckResult(
            check_name=check_name,
            passed=not report.poison,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={
                "poison_events": dg.MetadataValue.int(len(report.poison)),
                "reasons": dg.MetadataValue.json(mask_json(dict(report.poison[:50]))),
            },
        )
        results = [check]
        if spec.freshness.column:
            verdict = raw_freshness(spec, lake.scan(GROUP, asset_name), config.now())
            context.log.info(f"{spec.name} freshness: {verdict.summary}.")
            results.append(fresh_check_result(spec, verdict))
        return dg.MaterializeResult(metadata=meta, check_results=results)

    return _raw
