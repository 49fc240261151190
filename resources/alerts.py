"""Where alerts go: a JSON-lines log file, a webhook (through the REST API client), or both."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field

from assets.core.http import ApiClient, ApiSettings
from assets.core.privacy import mask_json


class AlertSinkResource(dg.ConfigurableResource):
    """Alerts as one JSON object per line in ``log_path`` and/or POSTed to ``webhook_url``."""

    log_path: str | None = Field(
        default=None, description="JSON-lines file that receives every alert (appended)."
    )
    webhook_url: str | None = Field(
        default=None,
        repr=False,
        description="URL that receives each alert as a JSON POST (use dg.EnvVar; may hold a "
        "token, so it is never logged).",
    )
    ui_base_url: str = Field(
        default="http://127.0.0.1:3000", description="Dagster UI root, for links to runs."
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Webhook timeout.")

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"

    def send(self, alert: dict[str, Any]) -> None:
        """Write ``alert`` (plus a timestamp) to every configured sink, with any e-mail address
        or phone number in its text masked: an error message may quote the data."""
        record = mask_json({"at": datetime.now(UTC).isoformat(timespec="seconds"), **alert})
        if self.log_path:
            path = Path(self.log_path)
            path.parent.mkdir(parents=True, exist_ok=True)
            line = (json.dumps(record, default=str) + "\n").encode()
            # One write of one line with O_APPEND: concurrent writers never interleave lines.
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line)
            finally:
                os.close(fd)
        if self.webhook_url:
            api = ApiClient(
                ApiSettings(base_url=self.webhook_url, timeout_s=self.timeout_s, max_attempts=3)
            )
            try:
                api.post_json(self.webhook_url, record)
            finally:
                api.close()
