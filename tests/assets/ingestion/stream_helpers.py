"""A small stream dataset spec and a producer for the stream tests."""

from __future__ import annotations

import json
from pathlib import Path

import redis

from assets.core.spec import DatasetSpec, load_catalog

SPEC = """\
name: clicks
description: Clicks on the web shop.
owner: team:web
key: [click_id]
source: {{kind: stream, backend: {backend}, stream: clicks, batch_events: {batch}, \
max_events: {max_events}, max_message_bytes: 400, claim_idle_s: 1}}
columns:
  - {{name: click_id, type: integer, required: true}}
  - {{name: page, type: string, required: true}}
  - {{name: clicked_at, type: datetime}}
  - {{name: amount, type: float}}
"""


def write_spec(
    folder: Path, *, backend: str = "redis", batch: int = 10, max_events: int = 100_000
) -> DatasetSpec:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clicks.yaml").write_text(
        SPEC.format(backend=backend, batch=batch, max_events=max_events)
    )
    return load_catalog([folder])["clicks"]


def click(i: int, **extra: object) -> bytes:
    body = {"click_id": i, "page": f"/p/{i % 7}", "clicked_at": "2026-12-01T10:00:00", "amount": i}
    body.update(extra)
    return json.dumps(body).encode()


def produce(url: str, payloads: list[bytes], stream: str = "clicks") -> list[str]:
    client = redis.Redis.from_url(url)
    pipe = client.pipeline(transaction=False)
    for p in payloads:
        pipe.xadd(stream, {"data": p})
    return [i.decode() for i in pipe.execute()]
