"""The landing zone: where files arrive, and where bad ones are copied aside."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import Field


class LandingZoneResource(dg.ConfigurableResource):
    """Root of incoming files (``<root>/<dataset>/``) and of the file quarantine."""

    root: str = Field(
        description="Landing-zone root: a folder or s3://bucket/prefix; each dataset reads "
        "<root>/<dataset>/."
    )
    quarantine_root: str = Field(
        description="Where bad files are copied, with a JSON sidecar giving the reason."
    )
    max_file_bytes: int | None = Field(
        default=None,
        gt=0,
        description="Refuse any single file larger than this; default: each dataset's own limit "
        "(5 GB for the built-in ones).",
    )

    @property
    def path(self) -> Path:
        return Path(self.root)

    def quarantine_dir(self, dataset: str) -> Path:
        return Path(self.quarantine_root) / "files" / dataset
