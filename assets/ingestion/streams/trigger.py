"""When a stream dataset needs a run: enough events waiting, or the oldest waiting long enough.

Plain logic over a ``StreamLag``; the sensor (``sensors/stream.py``) polls and requests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from assets.core.spec import DatasetSpec
from assets.ingestion.streams.batch import StreamLag


@dataclass(frozen=True)
class Trigger:
    """Whether to run now, why (one sentence), and the run's key."""

    run: bool
    reason: str
    run_key: str | None = None


def waiting_since(lag: StreamLag, first_seen: datetime | None) -> datetime | None:
    """Since when events wait: the oldest waiting entry's arrival where the broker says (Redis),
    else when the sensor first saw the backlog (Kafka keeps no per-message state)."""
    return lag.oldest_waiting_at or first_seen if lag.total else None


def decide(
    spec: DatasetSpec, lag: StreamLag, now: datetime, first_seen: datetime | None
) -> Trigger:
    """A run once ``batch_events`` entries wait or the oldest has waited ``batch_wait_s``."""
    src = spec.source
    if lag.total == 0:
        return Trigger(False, "nothing waits")
    key = f"{spec.name}:{lag.first_id}..{lag.last_id}"
    if lag.total >= src.batch_events:
        return Trigger(True, f"{lag.total:,} events wait (>= {src.batch_events:,})", key)
    since = waiting_since(lag, first_seen)
    age = (now - since).total_seconds() if since else 0.0
    if age >= src.batch_wait_s:
        return Trigger(
            True,
            f"{lag.total:,} events, the oldest {age:.0f} s old (>= {src.batch_wait_s:g} s)",
            key,
        )
    return Trigger(False, f"{lag.total:,} events wait, the oldest {age:.0f} s old")
