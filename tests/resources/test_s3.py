"""S3StorageResource against moto's standalone S3 server over HTTP on loopback."""

from __future__ import annotations

import os
from pathlib import Path

import boto3
import polars as pl
import pytest

from assets.core.s3 import join_key, split_s3_uri
from resources.s3 import S3StorageResource

pytestmark = pytest.mark.e2e


def test_listing_pages_downloads_stream_and_uploads_complete(
    s3_env: dict[str, str], tmp_path: Path
) -> None:
    bucket = s3_env["BUCKET"]
    s3 = S3StorageResource()  # everything from the standard AWS variables
    raw = boto3.client("s3")
    for i in range(25):
        raw.put_object(Bucket=bucket, Key=f"landing/items/f{i:02d}.csv", Body=b"id\n1\n")
    raw.put_object(Bucket=bucket, Key="landing/other/x.csv", Body=b"id\n")
    keys = [o["Key"] for o in s3.list_objects(bucket, "landing/items", page_size=10)]
    assert keys == [f"landing/items/f{i:02d}.csv" for i in range(25)]

    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(9 * 1024 * 1024))  # over boto3's 8 MB multipart threshold
    s3.upload(big, bucket, "lake/big.bin")
    head = raw.head_object(Bucket=bucket, Key="lake/big.bin")
    assert head["ContentLength"] == big.stat().st_size
    assert "-" in head["ETag"], "a multipart upload, completed as one object"
    back = s3.download(bucket, "lake/big.bin", tmp_path / "back.bin")
    assert back.read_bytes() == big.read_bytes()


def test_polars_reads_through_the_same_connection(s3_env: dict[str, str], tmp_path: Path) -> None:
    bucket = s3_env["BUCKET"]
    s3 = S3StorageResource(endpoint_url=s3_env["AWS_ENDPOINT_URL"], region_name="us-east-1")
    local = tmp_path / "t.parquet"
    pl.DataFrame({"a": [1, 2, 3]}).write_parquet(local)
    s3.upload(local, bucket, "lake/t/part-1.parquet")
    options = s3.storage_options()
    assert options["aws_allow_http"] == "true"
    frame = pl.scan_parquet(f"s3://{bucket}/lake/t/*.parquet", storage_options=options).collect()
    assert frame["a"].to_list() == [1, 2, 3]


def test_uri_helpers() -> None:
    assert split_s3_uri("s3://b/landing/") == ("b", "landing")
    assert split_s3_uri("s3://b") == ("b", "")
    assert join_key("landing", "", "/orders/", "x.csv") == "landing/orders/x.csv"
    with pytest.raises(ValueError, match="not an s3:// URI"):
        split_s3_uri("/tmp/x")
