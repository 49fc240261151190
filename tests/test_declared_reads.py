"""Every asset reads only the lake tables it declares, so the UI's lineage and declarative
automation see every edge the code reads.

One run of the whole graph on a recording lake: each table a step opens (``table_dir``, through
which every scan, existence check, DuckDB registration and artifact path goes) is compared with
the step's own keys and its declared dependencies.
"""

from __future__ import annotations

from collections import defaultdict

import dagster as dg
import pytest

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from resources.lake import LakeResource

OPENED: dict[frozenset[str], set[str]] = defaultdict(set)


class RecordingLake(LakeResource):
    """The real lake, noting which step opened which table."""

    def table_dir(self, group: str, name: str):  # type: ignore[override]
        context = dg.AssetExecutionContext.get()
        keys = frozenset(k.to_user_string() for k in context.assets_def.keys)
        OPENED[keys].add(name)
        return super().table_dir(group, name)


@pytest.mark.e2e  # the whole graph, models included
def test_every_asset_reads_only_what_it_declares(settings: Settings) -> None:
    defs = build_definitions(settings)
    assets = [a for a in defs.assets if isinstance(a, dg.AssetsDefinition)]
    every_key = {k.to_user_string() for a in assets for k in a.keys}
    validated = {k for k in every_key if k.startswith("validated_")}
    # Lake tables that are no asset of their own, and the assets that write them.
    written_by = {"quality_history": validated}
    resources = dict(defs.resources)
    resources["lake"] = RecordingLake(root=settings.lake_uri)
    OPENED.clear()
    with dg.instance_for_test() as instance:
        result = dg.materialize(assets, resources=resources, instance=instance)
    assert result.success

    deps_of = {
        frozenset(k.to_user_string() for k in a.keys): {
            k.to_user_string() for k in a.dependency_keys
        }
        for a in assets
    }
    undeclared = {}
    for own, tables in OPENED.items():
        for table in sorted(tables):
            assert table in every_key or table in written_by, f"{table}: which asset writes it?"
            writers = written_by.get(table, {table})
            if writers & own or writers <= deps_of[own]:
                continue
            undeclared.setdefault(", ".join(sorted(own)), []).append(table)
    assert not undeclared, f"tables read but not declared as deps: {undeclared}"
    # Every asset of the graph ran through the recording lake, but the two that open no table:
    # the generator writes landing files, the pipeline report reads Dagster's event log.
    assert {k for own in OPENED for k in own} == every_key - {
        "sample_landing_data",
        "pipeline_report",
    }
