"""The Parquet lake as a Dagster resource: its configuration, over ``assets.core.storage``."""

from __future__ import annotations

import dagster as dg
from pydantic import Field

from assets.core.s3 import S3Settings
from assets.core.storage import Lake
from assets.core.versions import KEEP_VERSIONS_HOURS
from resources.s3 import S3StorageResource


class LakeResource(dg.ConfigurableResource, Lake):
    """Tables live in ``<root>/<group>/<table>/part-*.parquet``; state in ``<root>/_state``.

    ``root`` is a local folder or ``s3://bucket/prefix``; an S3 lake connects through the ``s3``
    resource it is given, the same one the S3 sources use. On S3, DuckDB holds a local copy of
    each table as a query cache.
    """

    root: str = Field(
        description="Lake root holding <group>/<table>/ Parquet parts: a local folder or "
        "s3://bucket/prefix."
    )
    scratch_root: str | None = Field(
        default=None,
        description="Local folder for a step's temporary files; default <root>/_state/tmp for a "
        "local lake, the system temp folder for S3.",
    )
    keep_versions_hours: float = Field(
        default=KEEP_VERSIONS_HOURS,
        ge=0,
        description="How long a validated table's versions that are not published (held back "
        "by a failed gate, or replaced) are kept before they are removed "
        "(PIPELINE_KEEP_VERSIONS_HOURS).",
    )
    s3: S3StorageResource | None = Field(
        default=None,
        description="The S3 connection of an s3:// lake; default: boto3's standard chain.",
    )

    def s3_settings(self) -> S3Settings:
        return self.s3.settings() if self.s3 is not None else S3Settings()
