"""A Redis stream read through one consumer group per dataset (``XREADGROUP``, ``XACK``).

Reads take, in order: this consumer's own pending entries (delivered before a crash and never
acknowledged), then entries of other consumers idle for ``claim_idle_s`` (``XAUTOCLAIM``: a dead
worker's), then new ones. A restarted worker therefore re-reads exactly the batch it lost first.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import redis

from assets.core.spec import DatasetSpec
from assets.ingestion.streams.batch import StreamEntry, StreamLag, id_key


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _arrival(entry_id: str) -> datetime:
    """A Redis entry id starts with the server's clock (ms) when the entry was added."""
    return datetime.fromtimestamp(id_key(entry_id)[0] / 1000, tz=UTC)


class RedisStream:
    """One dataset's consumer group on its stream."""

    def __init__(
        self,
        client: redis.Redis,
        stream: str,
        group: str,
        consumer: str,
        *,
        message_field: str = "data",
        claim_idle_s: float = 60.0,
    ) -> None:
        # redis-py types its replies loosely (and per RESP version); they are read as documented.
        self.client: Any = client
        self.stream = stream
        self.group = group
        self.consumer = consumer
        self.field = message_field.encode()
        self.claim_idle_ms = int(claim_idle_s * 1000)
        self._own_pending = True

    @classmethod
    def for_spec(cls, client: redis.Redis, spec: DatasetSpec, consumer: str) -> RedisStream:
        src = spec.source
        assert src.stream is not None
        stream = cls(
            client,
            src.stream,
            src.consumer_group(spec.name),
            consumer,
            message_field=src.message_field,
            claim_idle_s=src.claim_idle_s,
        )
        stream.ensure_group()
        return stream

    def ensure_group(self) -> None:
        """Create the group at the stream's start (and the stream) unless it exists."""
        try:
            self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _entries(self, raw: Sequence[Any]) -> list[StreamEntry]:
        out = []
        for entry_id, fields in raw:
            eid = _text(entry_id)
            # A pending entry deleted from the stream comes back without fields.
            payload = (fields or {}).get(self.field)
            out.append(StreamEntry(eid, payload, _arrival(eid)))
        return out

    def _group_read(self, start: str, count: int) -> list[StreamEntry]:
        reply = self.client.xreadgroup(self.group, self.consumer, {self.stream: start}, count=count)
        return self._entries(reply[0][1]) if reply else []

    def read(self, count: int) -> list[StreamEntry]:
        if self._own_pending:
            own = self._group_read("0", count)
            if own:
                return own
            self._own_pending = False
        claimed = self.client.xautoclaim(
            self.stream, self.group, self.consumer, self.claim_idle_ms, "0-0", count=count
        )
        if claimed[1]:
            return self._entries(claimed[1])
        return self._group_read(">", count)

    def ack(self, ids: Sequence[str]) -> None:
        if ids:
            self.client.xack(self.stream, self.group, *ids)

    def lag(self) -> StreamLag:
        groups = {_text(g["name"]): g for g in self.client.xinfo_groups(self.stream)}
        info = self.client.xinfo_stream(self.stream)
        last = _text(info["last-generated-id"]) if info.get("length") else None
        group = groups.get(self.group)
        delivered = _text(group["last-delivered-id"]) if group else "0-0"
        pending = int(group["pending"]) if group else 0
        after = self.client.xrange(self.stream, min=f"({delivered}", max="+", count=1)
        waiting = group.get("lag") if group else None
        if waiting is None:  # an entry deleted mid-stream leaves Redis unable to count
            waiting = len(self.client.xrange(self.stream, min=f"({delivered}", max="+"))
        oldest = _arrival(_text(after[0][0])) if after else None
        first = None
        if pending:
            first = _text(self.client.xpending(self.stream, self.group)["min"])
        elif after:
            first = _text(after[0][0])
        return StreamLag(int(waiting), pending, oldest, first, last)
