"""S3 (or any S3-compatible store): dagster-aws's S3Resource plus listing, streaming and uploads.

Listing is paginated, downloads stream to a local file in chunks, and uploads go through boto3's
managed transfer: a single PUT or a multipart upload that only becomes visible once completed,
so a reader never sees a partial object.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dagster_aws.s3 import S3Resource

from assets.core.s3 import S3Settings


class S3StorageResource(S3Resource):
    """S3 client settings from dagster-aws (region, endpoint_url, credentials via dg.EnvVar).

    Unset fields fall back to the standard AWS variables (``AWS_ENDPOINT_URL``,
    ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_REGION``), for boto3 and Polars alike.
    """

    def get_object_to_set_on_execution_context(self) -> Any:
        # dagster-aws hands ops the bare boto3 client; the pipeline wants these methods too.
        return self

    def list_objects(
        self, bucket: str, prefix: str, page_size: int = 1000
    ) -> Iterator[dict[str, Any]]:
        """Every object under ``prefix`` (a folder: a trailing slash is added), page by page."""
        paginator = self.get_client().get_paginator("list_objects_v2")
        folder = prefix.rstrip("/") + "/" if prefix else ""
        pages = paginator.paginate(
            Bucket=bucket, Prefix=folder, PaginationConfig={"PageSize": page_size}
        )
        for page in pages:
            yield from page.get("Contents", [])

    def download(self, bucket: str, key: str, dest: Path) -> Path:
        """Stream one object to ``dest`` (chunked, never whole in memory)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.get_client().download_file(bucket, key, str(dest))
        return dest

    def upload(self, path: Path, bucket: str, key: str) -> None:
        """Upload a local file; visible only when complete (single PUT or completed multipart)."""
        self.get_client().upload_file(str(path), bucket, key)

    def put_bytes(self, bucket: str, key: str, data: bytes) -> None:
        self.get_client().put_object(Bucket=bucket, Key=key, Body=data)

    def get_bytes(self, bucket: str, key: str) -> bytes:
        return self.get_client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def settings(self) -> S3Settings:
        """This configuration as the connection the lake and the readers share."""
        return S3Settings(
            region_name=self.region_name,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.aws_access_key_id,
            aws_secret_access_key=self.aws_secret_access_key,
            aws_session_token=self.aws_session_token,
            profile_name=self.profile_name,
            max_attempts=self.max_attempts,
            use_ssl=self.use_ssl,
            verify=self.verify,
            use_unsigned_session=self.use_unsigned_session,
        )

    def storage_options(self) -> dict[str, str]:
        """The same connection for Polars (``pl.scan_parquet(uri, storage_options=...)``)."""
        return self.settings().storage_options()
