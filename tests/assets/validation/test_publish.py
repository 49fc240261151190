"""Write-audit-publish in real in-process runs: a version of validated_orders whose blocking gate
failed is never what a later run reads; the last published version is."""

from __future__ import annotations

import json

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.generator import GeneratorConfig, generate_dataset
from resources import LakeResource
from tests.runs import materialize, upstream_of


@dg.asset(deps=["validated_orders"], group_name="test")
def orders_reader(lake: LakeResource) -> dg.MaterializeResult:
    """Stands in for any later reader of validated_orders (a stage, an export, a pipeline)."""
    orders = lake.scan("validation", "validated_orders")
    stats = orders.select(
        pl.len().alias("rows"), pl.col("_source_file").unique().sort().str.join(",").alias("files")
    )
    row = stats.collect().row(0, named=True)
    return dg.MaterializeResult(metadata={"rows": row["rows"], "files": row["files"]})


def _land(settings, tmp_path, batch: str, **rates: float) -> None:
    """A batch of landing files under new names (ingestion refuses changed bytes under an old
    name): raw tables hold every batch landed so far."""
    out = tmp_path / f"gen-{batch}"
    generate_dataset(
        out, GeneratorConfig(customers=300, orders=3000, fmt="csv", defect_rates=rates)
    )
    for dataset in ("customers", "orders", "products"):
        target = settings.data_dir / "landing" / dataset
        target.mkdir(parents=True, exist_ok=True)
        for f in (out / dataset).iterdir():
            f.rename(target / f"{batch}-{f.name}")


def _validate(settings):
    return materialize(settings, upstream_of("validated_orders"))


def _read(settings) -> dict:
    result = materialize(settings, dg.AssetSelection.assets(orders_reader), extra=[orders_reader])
    assert result.success
    meta = result.asset_materializations_for_node("orders_reader")[0].metadata
    return {"rows": meta["rows"].value, "files": meta["files"].value}


def _validated_meta(result) -> dict:
    (event,) = [
        m
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "validated_orders"
    ]
    return {k: v.value for k, v in event.materialization.metadata.items()}


@pytest.mark.e2e
def test_a_version_whose_gate_failed_is_held_back_and_readers_keep_the_published_one(
    settings, tmp_path
):
    _land(settings, tmp_path, "a")
    first = _validate(settings)
    assert first.success
    published = _validated_meta(first)
    assert published["held_back_version"] is None and published["published_version"]
    before = _read(settings)
    assert before["rows"] == published["rows_valid"]
    assert before["files"] == "orders/a-orders-00000.csv", before

    # A second batch with a tenth of the required values missing: the validity gate fails.
    _land(settings, tmp_path, "b", null_required=0.1)
    second = _validate(settings)
    gate = next(
        c
        for c in second.get_asset_check_evaluations()
        if c.check_name == "orders_validity_at_least_threshold"
    )
    assert not gate.passed
    held = _validated_meta(second)
    assert held["published_version"] == published["published_version"]
    assert held["held_back_version"] not in (None, published["published_version"])
    assert "orders_validity_at_least_threshold" in held["held_back_because"]
    assert held["rows_in"] > published["rows_in"]  # the new batch was read

    # A later run of a reader, the warehouse's view and the pointer all show the first version.
    assert _read(settings) == before
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        in_view = con.execute("SELECT count(*) FROM validation.validated_orders").fetchone()
    assert in_view == (before["rows"],)
    table = settings.data_dir / "lake" / "validation" / "validated_orders"
    pointer = json.loads((table / "_published.json").read_text())
    assert pointer["version"] == published["published_version"]
    assert pointer["held_back"]["version"] == held["held_back_version"]
