"""The `warehouse` pool in dagster.yaml governs exactly the steps that open the DuckDB file."""

import dagster as dg

from pipeline_defs import build_definitions
from resources.warehouse import WAREHOUSE_POOL


def _assets(settings) -> list[dg.AssetsDefinition]:
    graph = build_definitions(settings).resolve_asset_graph()
    found = {graph.get(k).assets_def for k in graph.get_all_asset_keys()}
    return [a for a in found if a.is_executable]


def test_every_warehouse_writer_and_only_those_is_in_the_warehouse_pool(settings):
    writers, others = [], []
    for a in _assets(settings):
        (writers if "warehouse" in a.required_resource_keys else others).append(a)
    assert len(writers) >= 20  # ingestion, validation, enrichment, features, analytics, reports
    unpooled = sorted(a.node_def.name for a in writers if a.op.pool != WAREHOUSE_POOL)
    assert unpooled == []
    # Steps that never touch the file do not queue behind those that do.
    assert sorted(a.node_def.name for a in others if a.op.pool == WAREHOUSE_POOL) == []
