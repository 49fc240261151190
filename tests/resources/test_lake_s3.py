"""The lake on S3 (PIPELINE_LAKE_URI=s3://...), against moto's S3 server over HTTP on loopback.

boto3 and Polars both talk to the server through the standard AWS variables (``s3_env``).
"""

from __future__ import annotations

from pathlib import Path

import boto3
import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.core.storage import (
    S3LakePath,
    atomic_write_bytes,
    read_parquet,
    remove_tree,
    scan_parts,
    sink_parquet_atomic,
)
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from resources.lake import LakeResource
from resources.s3 import S3StorageResource
from resources.warehouse import WarehouseResource
from tests.runs import materialize


def _keys(bucket: str, prefix: str) -> list[str]:
    pages = (
        boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    )
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_s3_paths_behave_like_the_local_folders_the_stages_use(s3_env: dict[str, str]) -> None:
    root = S3LakePath(s3_env["BUCKET"], "lake")
    table = root / "g" / "t"
    assert not table.exists() and not table.is_dir()
    frame = pl.DataFrame({"a": [1, 2, 3], "b": ["x", "y", None]})
    sink_parquet_atomic(frame.lazy(), table / "part-full.parquet")
    sink_parquet_atomic(frame.head(1), table / "date=2024-01-02" / "part-full.parquet")
    atomic_write_bytes(table / "latest.json", b'{"v": 1}')
    assert table.is_dir() and (table / "part-full.parquet").is_file()
    assert [p.name for p in table.glob("part-*.parquet")] == ["part-full.parquet"]
    bucket_root = S3LakePath(s3_env["BUCKET"], "")  # a lake at the root of its bucket
    assert [str(p) for p in bucket_root.glob("lake/g/t/part-*.parquet")] == [
        str(table / "part-full.parquet")
    ]
    assert [str(p.parent.name) for p in table.glob("date=*/part-*.parquet")] == ["date=2024-01-02"]
    assert (table / "latest.json").read_text() == '{"v": 1}'
    assert read_parquet(table / "part-full.parquet").equals(frame)
    both = scan_parts(sorted(table.glob("part-*.parquet")) + list(table.glob("date=*/*.parquet")))
    assert both.select(pl.len()).collect().item() == 4
    (table / "latest.json").unlink()
    (table / "latest.json").unlink(missing_ok=True)
    with pytest.raises(FileNotFoundError):
        (table / "latest.json").unlink()
    remove_tree(table / "date=2024-01-02")
    assert _keys(s3_env["BUCKET"], "lake/") == ["lake/g/t/part-full.parquet"]
    assert str(table) == f"s3://{s3_env['BUCKET']}/lake/g/t"


def test_replace_is_one_whole_object_and_duckdb_gets_a_local_copy(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    lake = LakeResource(root=f"s3://{s3_env['BUCKET']}/lake", scratch_root=str(tmp_path / "tmp"))
    lake.ensure_schema_part("g", "t", pl.DataFrame({"a": [0]}))
    lake.replace("g", "t", pl.LazyFrame({"a": [1, 2]}))
    lake.replace("g", "t", pl.LazyFrame({"a": [3, 4, 5]}))  # the second write replaces the first
    assert _keys(s3_env["BUCKET"], "lake/g/t/") == ["lake/g/t/part-full.parquet"]
    assert lake.scan("g", "t").collect()["a"].to_list() == [3, 4, 5]
    warehouse = WarehouseResource(database=str(tmp_path / "w.duckdb"))
    lake.register(warehouse, "g", "t")
    with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as con:
        assert con.execute("SELECT sum(a) FROM g.t").fetchone() == (12,)
    # The local copy for DuckDB is gone; what stays is this process's (empty) scratch folder.
    assert not [p for p in (tmp_path / "tmp").rglob("*") if not p.is_dir()]
    with pytest.raises(FileNotFoundError, match=r"lake table g\.missing has no data"):
        lake.scan("g", "missing")


@pytest.mark.e2e
def test_whole_pipeline_runs_with_the_lake_on_s3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]
) -> None:
    bucket = s3_env["BUCKET"]
    for k, v in s3_env.items():
        if k != "BUCKET":
            monkeypatch.setenv(k, v)
    settings = Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
            "PIPELINE_LAKE_URI": f"s3://{bucket}/lake",
        }
    )
    first = materialize(settings, dg.AssetSelection.all())
    assert first.success, [e.message for e in first.all_events if e.is_failure]
    keys = _keys(bucket, "lake/")
    for table in (
        "ingestion/raw_orders/",
        "validation/validated_orders/_published.json",
        "validation/validated_orders/_versions/",
        "validation/quarantined_orders/part-full.parquet",
        "validation/quality_history/",
        "enrichment/enriched_orders/part-full.parquet",
        "features/churn_features/part-full.parquet",
        "features/churn_preprocessor/latest.json",
        "analytics/churn_model/latest.json",
        "analytics/churn_scores/part-full.parquet",
        "reports/insights/part-full.parquet",
        "_state/ingestion/orders_ledger.parquet",
        "_state/validation/orders_drift.json",
    ):
        assert any(k.startswith("lake/" + table) for k in keys), table
    assert not (tmp_path / "data" / "lake").exists()  # nothing of the lake is local
    lake = LakeResource(root=f"s3://{bucket}/lake")
    orders = lake.scan("validation", "validated_orders").select(pl.len()).collect().item()
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        cached = con.execute("SELECT count(*) FROM validation.validated_orders").fetchone()
    assert orders > 0 and cached == (orders,)

    # A second run finds every landing file in the ledger on S3: nothing new is ingested.
    raw_parts = _keys(bucket, "lake/ingestion/raw_orders/")
    again = materialize(settings, dg.AssetSelection.assets("raw_orders"))
    assert again.success
    assert _keys(bucket, "lake/ingestion/raw_orders/") == raw_parts
    d = build_definitions(settings)
    assert d.resolve_job_def("full_pipeline") is not None


def test_the_lake_connects_through_the_s3_resource_it_is_given(
    s3_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No endpoint in the environment: only the s3 resource knows where the server is, so a lake
    # that built its own client from AWS_* variables would miss it.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    s3 = S3StorageResource(endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    lake = LakeResource(
        root=f"s3://{s3_env['BUCKET']}/lake", scratch_root=str(tmp_path / "tmp"), s3=s3
    )
    lake.replace("g", "t", pl.LazyFrame({"a": [1, 2, 3]}))
    assert lake.scan("g", "t").collect()["a"].to_list() == [1, 2, 3]
    assert [p.name for p in lake.parts("g", "t")] == ["part-full.parquet"]
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_env["AWS_ENDPOINT_URL"])
    assert _keys(s3_env["BUCKET"], "lake/g/t/") == ["lake/g/t/part-full.parquet"]
