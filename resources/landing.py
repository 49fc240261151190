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
        description="Refuse any single file larger than this, and any compressed file that "
        "inflates past it; default: each dataset's own limit (5 GB for the built-in ones).",
    )

    settle_seconds: float = Field(
        default=3.0,
        ge=0,
        le=3600,
        description="A local landing file is read once it has not changed for this long (seconds); "
        "one still being written is left for the next run.",
    )

    @property
    def path(self) -> Path:
        return Path(self.root)

    def quarantine_dir(self, dataset: str) -> Path:
        return Path(self.quarantine_root) / "files" / dataset
