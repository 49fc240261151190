"""Ingestion assets in real in-process Dagster runs with real resources on a temp data root."""

import json
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipeline_defs import build_definitions


def _materialize(settings, run_config=None, tags=None):
    d = build_definitions(settings)
    job = d.resolve_job_def("ingest_and_validate")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, run_config=run_config or {}, tags=tags)
        return result, d


@pytest.mark.e2e
def test_sample_data_then_raw_assets_fill_the_lake_and_the_warehouse(settings):
    result, _ = _materialize(settings)
    assert result.success
    mats = {m.asset_key.to_user_string(): m for m in result.get_asset_materialization_events()}
    assert set(mats) >= {"sample_landing_data", "raw_orders", "raw_customers"}
    meta = mats["raw_orders"].materialization.metadata
    for field in (
        "rows_in",
        "rows_out",
        "duration_s",
        "rows_per_second",
        "dagster/column_schema",
        "preview",
        "files_read",
        "bytes_read",
        "throughput_mb_s",
        "formats",
        "encodings",
    ):
        assert field in meta, field
    assert meta["formats"].value == "csv"
    rows = meta["rows_out"].value
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ingestion.raw_orders").fetchone()[0] == rows
        flagged = con.execute(
            "SELECT count(*) FROM ingestion.raw_orders WHERE _ingest_errors IS NOT NULL"
        ).fetchone()[0]
    assert flagged == meta["flagged_rows"].value > 0  # the default sample plants wrong types
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["orders_landing_files_readable"].passed
    # The manifest and its defect labels sit side by side under _manifests/, the labels named
    # by the manifest; nothing in the landing zone's dataset folders is generator bookkeeping.
    manifest_at = Path(mats["sample_landing_data"].materialization.metadata["manifest"].value)
    manifest = json.loads(manifest_at.read_text())
    labels = pl.read_parquet(manifest_at.parent / manifest["defects_file"])
    assert labels.filter(pl.col("entity") == "orders").height == sum(
        manifest["defect_counts"]["orders"].values()
    )
    assert meta["rows_in"].value == manifest["row_counts"]["orders"]


@pytest.mark.e2e
def test_rerun_does_not_generate_or_ingest_again(settings):
    _materialize(settings)
    # The daily schedule's run, with nothing new since the first.
    result, _ = _materialize(settings, tags={"dagster/schedule_name": "daily_pipeline_schedule"})
    mats = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    assert mats["sample_landing_data"]["generated"].value is False
    # Nothing new arrived: a table that only its own validation reads is not refreshed, so
    # that validation is skipped. Customers and products are refreshed (nothing new in them)
    # because the run validates datasets that read them: Dagster would skip those steps too.
    for name in ("orders", "support_tickets", "usage_events"):
        assert f"raw_{name}" not in mats and f"validated_{name}" not in mats
    assert mats["raw_customers"]["new_rows"].value == 0
    assert "validated_orders" in mats["raw_customers"]["refreshed_for"].value
    assert mats["raw_products"]["refreshed_for"].value == "quarantined_orders, validated_orders"
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert checks["orders_landing_files_readable"].metadata["new_rows"].value == 0


def test_bad_file_warns_through_the_check_and_the_run_still_succeeds(settings):
    folder = settings.data_dir / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "broken.parquet").write_bytes(b"PAR1 this is not parquet")
    result, _ = _materialize(settings)
    assert result.success
    check = {c.check_name: c for c in result.get_asset_check_evaluations()}[
        "orders_landing_files_readable"
    ]
    assert not check.passed and check.severity == dg.AssetCheckSeverity.WARN
    assert "unreadable Parquet" in str(check.metadata["reasons"].value)
    # The landing zone already had files, so no sample was generated; orders is empty but typed.
    lake = pl.scan_parquet(
        str(settings.data_dir / "lake" / "ingestion" / "raw_orders" / "*.parquet")
    )
    assert lake.collect_schema()["quantity"] == pl.Int64


def _error_chain(result) -> str:
    messages = []
    for event in result.all_events:
        err = event.event_specific_data.error if event.is_failure else None
        while err is not None:
            messages.append(err.message)
            err = err.cause
    return "\n".join(messages)


def test_out_of_range_config_of_an_ad_hoc_selection_is_refused_naming_the_field(settings):
    # Named jobs refuse this at launch (tests/test_launch_config.py). An ad-hoc selection runs in
    # the implicit asset job, which takes no config mapping: there pydantic enforces the bounds
    # when the step builds its config, before any data is written.
    d = build_definitions(settings)
    job = d.resolve_implicit_global_asset_job_def().get_subset(
        asset_selection={dg.AssetKey("sample_landing_data")}
    )
    bad = {"ops": {"sample_landing_data": {"config": {"defect_rate": 0.9}}}}
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, run_config=bad, raise_on_error=False)
    assert not result.success
    assert "defect_rate\n  Input should be less than or equal to 0.2" in _error_chain(result)
    assert not (settings.data_dir / "landing").exists() or not any(
        (settings.data_dir / "landing").rglob("*.csv")
    )


def test_wrongly_typed_config_is_refused_before_the_run(settings):
    job = build_definitions(settings).resolve_job_def("generate_sample_data")
    bad = {"ops": {"sample_landing_data": {"config": {"file_format": "xlsx"}}}}
    with dg.instance_for_test() as instance:
        try:
            job.execute_in_process(instance=instance, run_config=bad)
        except dg.DagsterInvalidConfigError as exc:
            assert "file_format" in str(exc)
        else:
            raise AssertionError("file_format xlsx was accepted")


def test_max_files_takes_a_backlog_in_bounded_runs(settings):
    folder = settings.data_dir / "landing" / "products"
    folder.mkdir(parents=True)
    header = "product_id,sku,name,category,brand,list_price,unit_cost\n"
    for i in range(3):
        (folder / f"p{i}.csv").write_text(header + f"P{i},SKU-{i:05d},Thing,toys,Acme,9.5,4\n")
    d = build_definitions(settings)
    job = d.resolve_implicit_global_asset_job_def()
    capped = {"ops": {"raw_products": {"config": {"max_files": 2}}}}
    seen = []
    with dg.instance_for_test() as instance:
        for _ in range(3):
            result = job.execute_in_process(
                instance=instance, run_config=capped, asset_selection=[dg.AssetKey("raw_products")]
            )
            (mat,) = result.get_asset_materialization_events()
            meta = mat.materialization.metadata
            seen.append((meta["files_read"].value, meta["files_waiting"].value))
    assert seen == [(2, 1), (1, 0), (0, 0)]
    lake = pl.read_parquet(
        settings.data_dir / "lake" / "ingestion" / "raw_products" / "part-*.parquet"
    )
    assert sorted(lake["product_id"].to_list()) == ["P0", "P1", "P2"]
