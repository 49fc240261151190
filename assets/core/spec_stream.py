"""The stream fields of a dataset's ``source`` (``kind: stream``): which stream, how its entries
are read, and when the sensor asks for a run. ``SourceSpec`` takes them in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, model_validator


class StreamSourceFields(BaseModel):
    """``backend: redis`` reads a Redis stream (``stream`` is its key) through a consumer group;
    ``backend: kafka`` reads a Kafka topic (``stream`` is the topic) as a consumer group. Each
    entry holds one JSON object (the ``message_field`` of a Redis entry, a Kafka message's
    value)."""

    backend: Literal["redis", "kafka"] = "redis"
    stream: str | None = Field(default=None, min_length=1, max_length=256)
    group: str | None = Field(default=None, min_length=1, max_length=128)
    message_field: str = Field(default="data", min_length=1)
    max_message_bytes: int = Field(default=1_048_576, ge=16, le=64 * 1_048_576)
    batch_events: int = Field(default=1_000, ge=1, le=1_000_000)
    batch_wait_s: float = Field(default=30.0, gt=0, le=86_400)
    max_events: int = Field(default=100_000, ge=1, le=100_000_000)
    claim_idle_s: float = Field(default=60.0, gt=0, le=86_400)

    @model_validator(mode="after")
    def _stream_named(self) -> StreamSourceFields:
        kind = getattr(self, "kind", None)
        if kind == "stream" and not self.stream:
            raise ValueError(
                "stream: a stream source needs the stream to read (a Redis stream key or a "
                "Kafka topic), e.g. stream: orders-events"
            )
        if kind == "stream" and self.batch_events > self.max_events:
            raise ValueError(
                f"batch_events: {self.batch_events} is more than max_events ({self.max_events}), "
                "the most one run takes"
            )
        return self

    def consumer_group(self, dataset: str) -> str:
        """The consumer group: one per dataset unless the spec names one."""
        return self.group or f"pipeline-{dataset}"
