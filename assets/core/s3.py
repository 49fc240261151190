"""S3 connection settings and URIs, without Dagster: one settings object builds the boto3 client
and Polars' storage options, so every reader and writer of a bucket uses the same connection."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from typing import Any


def is_s3_uri(uri: str) -> bool:
    return uri.startswith("s3://")


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix")`` (prefix without slashes)."""
    if not is_s3_uri(uri):
        raise ValueError(f"not an s3:// URI: {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise ValueError(f"no bucket in {uri!r}")
    return bucket, prefix.strip("/")


def join_key(*parts: str) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


@dataclass(frozen=True)
class S3Settings:
    """How to reach a bucket. Unset fields fall back to boto3's standard chain (the ``AWS_*``
    variables, the shared config and credential files), for boto3 and Polars alike.

    The ``s3`` resource builds one from its configuration, so the lake, the S3 sources and the
    sensors all connect the same way.
    """

    region_name: str | None = None
    endpoint_url: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    aws_session_token: str | None = None
    profile_name: str | None = None
    max_attempts: int = 5
    use_ssl: bool = True
    verify: bool | None = None
    use_unsigned_session: bool = False

    def client(self) -> Any:
        """A boto3 S3 client (one per distinct settings: a client is thread-safe and slow to
        build). The standard variables are part of the key, as boto3 reads them when the client
        is built."""
        return _client(self, tuple(os.environ.get(k) for k in _CHAIN_ENV))

    def storage_options(self) -> dict[str, str]:
        """The same connection for Polars (``pl.scan_parquet(uri, storage_options=...)``)."""
        env = os.environ
        endpoint = self.endpoint_url or env.get("AWS_ENDPOINT_URL")
        options = {
            "aws_region": self.region_name
            or env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION")
            or "us-east-1",
        }
        key_id = self.aws_access_key_id or env.get("AWS_ACCESS_KEY_ID")
        secret = self.aws_secret_access_key or env.get("AWS_SECRET_ACCESS_KEY")
        if key_id and secret:
            options["aws_access_key_id"] = key_id
            options["aws_secret_access_key"] = secret
        token = self.aws_session_token or env.get("AWS_SESSION_TOKEN")
        if token:
            options["aws_session_token"] = token
        if endpoint:
            options["aws_endpoint_url"] = endpoint
            if endpoint.startswith("http://"):
                options["aws_allow_http"] = "true"
        return options


_CHAIN_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_PROFILE",
)


@functools.lru_cache(maxsize=8)
def _client(settings: S3Settings, _chain: tuple[str | None, ...]) -> Any:
    # Imported here: boto3 costs ~0.3 s to import and only S3 users need it.
    import boto3.session
    from botocore import UNSIGNED
    from botocore.config import Config

    session = boto3.session.Session(profile_name=settings.profile_name)
    return session.client(
        "s3",
        region_name=settings.region_name,
        endpoint_url=settings.endpoint_url,
        aws_access_key_id=settings.aws_access_key_id,
        aws_secret_access_key=settings.aws_secret_access_key,
        aws_session_token=settings.aws_session_token,
        use_ssl=settings.use_ssl,
        verify=settings.verify,
        config=Config(
            retries={"max_attempts": settings.max_attempts, "mode": "standard"},
            signature_version=UNSIGNED if settings.use_unsigned_session else None,
        ),
    )
