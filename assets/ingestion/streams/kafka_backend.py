"""A Kafka topic read by one consumer group per dataset, offsets committed by hand.

Auto-commit is off: offsets are committed (synchronously) only in ``ack``, which the caller
runs after the batch is in the lake, so a worker that dies in between leaves its offsets where
they were and the group re-reads the batch. An entry id is ``<partition>-<offset>``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from assets.core.spec import DatasetSpec
from assets.ingestion.streams.batch import StreamEntry, StreamLag, id_key


class KafkaStream:
    """One dataset's consumer group on its topic."""

    def __init__(
        self,
        settings: Mapping[str, Any],
        topic: str,
        group: str,
        *,
        poll_timeout_s: float = 15.0,
    ) -> None:
        self.stream = topic
        self.group = group
        self.poll_timeout_s = poll_timeout_s
        self.consumer = Consumer(
            {
                # A worker that went away without leaving the group (killed) holds its
                # partitions until its session times out: 10 s rather than librdkafka's 45.
                "session.timeout.ms": 10_000,
                **settings,
                "group.id": group,
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",
            }
        )
        # Joining the group waits on a rebalance; asking for the lag needs no membership, so a
        # sensor's poll never joins, and a worker joins on its first read.
        self._subscribed = False
        self._partitions: list[int] | None = None

    @classmethod
    def for_spec(
        cls, settings: Mapping[str, Any], spec: DatasetSpec, *, poll_timeout_s: float = 15.0
    ) -> KafkaStream:
        assert spec.source.stream is not None
        return cls(
            settings,
            spec.source.stream,
            spec.source.consumer_group(spec.name),
            poll_timeout_s=poll_timeout_s,
        )

    def read(self, count: int) -> list[StreamEntry]:
        """Up to ``count`` messages; waits up to ``poll_timeout_s`` for the first (joining the
        group and being assigned partitions takes seconds), then takes only what is fetched."""
        if not self._subscribed:
            self.consumer.subscribe([self.stream])
            self._subscribed = True
        out: list[StreamEntry] = []
        deadline = time.monotonic() + self.poll_timeout_s
        while len(out) < count:
            wait = max(0.0, deadline - time.monotonic()) if not out else 0.05
            messages = self.consumer.consume(num_messages=count - len(out), timeout=wait)
            if not messages:
                if out or time.monotonic() >= deadline:
                    break
                continue
            for m in messages:
                err = m.error()
                if err is not None:
                    if err.code() == KafkaError._PARTITION_EOF:
                        continue
                    raise KafkaException(err)
                _kind, stamp = m.timestamp()
                at = (
                    datetime.fromtimestamp(stamp / 1000, tz=UTC) if stamp > 0 else datetime.now(UTC)
                )
                out.append(StreamEntry(f"{m.partition()}-{m.offset()}", m.value(), at))
        return out

    def ack(self, ids: Sequence[str]) -> None:
        """Commit, per partition, the offset after the largest acknowledged one."""
        upto: dict[int, int] = {}
        for entry_id in ids:
            partition, offset = id_key(entry_id)
            upto[partition] = max(upto.get(partition, -1), offset)
        if upto:
            self.consumer.commit(
                offsets=[TopicPartition(self.stream, p, o + 1) for p, o in upto.items()],
                asynchronous=False,
            )

    def lag(self) -> StreamLag:
        if self._partitions is None:
            # Asked once per worker: a metadata request also waits behind the fetch long-poll,
            # and a partition added meanwhile is read by the next run.
            meta = self.consumer.list_topics(self.stream, timeout=10)
            self._partitions = sorted(meta.topics[self.stream].partitions)
        partitions = [TopicPartition(self.stream, p) for p in self._partitions]
        committed = self.consumer.committed(partitions, timeout=10)
        waiting, first, last = 0, None, None
        for tp in committed:
            low, high = self._watermarks(tp)
            start = low if tp.offset == OFFSET_INVALID or tp.offset < low else tp.offset
            waiting += max(0, high - start)
            if high > start:
                first = first or f"{tp.partition}-{start}"
                last = f"{tp.partition}-{high - 1}"
        # Kafka keeps no per-message delivery state: what is not committed simply waits.
        return StreamLag(waiting, 0, None, first, last)

    def _watermarks(self, tp: TopicPartition) -> tuple[int, int]:
        """A partition's low and high offsets: as the last fetch reported them for a partition
        this worker reads (fetches keep them current), else asked of its leader. Asking waits
        behind the connection's fetch long-poll (``fetch.wait.max.ms``, 0.5 s) per partition:
        a drain, which asks after every batch, waited 2.5 s a batch on a four-partition
        topic."""
        low, high = self.consumer.get_watermark_offsets(tp, cached=True)
        if low >= 0 and high >= 0:
            return low, high
        return self.consumer.get_watermark_offsets(tp, timeout=10)

    def close(self) -> None:
        self.consumer.close()
