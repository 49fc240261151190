"""Where the HTML reports and their JSON twins are written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import dagster as dg
from pydantic import Field


class ReportsResource(dg.ConfigurableResource):
    """A folder of reports; each file is replaced atomically, so a reader never sees half a page."""

    root: str = Field(description="Folder for HTML reports and their JSON twins.")

    def write(self, name: str, content: str) -> Path:
        # ``name`` may hold a subfolder (``dictionary/orders.html``): the temporary file sits
        # beside its target, so the rename stays within one folder.
        target = Path(self.root) / name
        folder = target.parent
        folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
        Path(tmp).chmod(0o644)  # mkstemp creates 0600; reports are meant to be read
        Path(tmp).replace(target)
        return target
