"""Connections to the stream brokers of ``kind: stream`` sources: Redis and Kafka.

Each holds the settings Dagster shows and resolves (the URL through ``dg.EnvVar``) and hands out
a client; what is read and acknowledged is ``assets.ingestion.streams``'s.
"""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING, Any

import dagster as dg
from pydantic import Field

if TYPE_CHECKING:
    import redis


def default_consumer() -> str:
    """One consumer name per machine: a restarted worker takes its own pending entries back at
    once, while a dead machine's are claimed by another after ``claim_idle_s``."""
    return socket.gethostname() or "pipeline"


class RedisStreamResource(dg.ConfigurableResource):
    """A Redis server holding the streams (``PIPELINE_REDIS_URL``; off unless it is set)."""

    url: str = Field(
        description="redis://[:password@]host:port/db (use dg.EnvVar('PIPELINE_REDIS_URL')).",
        repr=False,
    )
    consumer: str = Field(
        default="",
        description="This worker's name in each dataset's consumer group (empty: the host name).",
    )
    socket_timeout_s: float = Field(default=10.0, gt=0, description="Connect and read timeout.")

    @property
    def consumer_name(self) -> str:
        return self.consumer or default_consumer()

    def client(self) -> redis.Redis:
        # Imported here: redis costs ~0.45 s to import, in every process that loads the
        # definitions, and only runs that read a stream need it.
        import redis

        return redis.Redis.from_url(
            self.url,
            socket_timeout=self.socket_timeout_s,
            socket_connect_timeout=self.socket_timeout_s,
        )


class KafkaStreamResource(dg.ConfigurableResource):
    """A Kafka-compatible broker (``PIPELINE_KAFKA_BOOTSTRAP``; off unless it is set)."""

    bootstrap_servers: str = Field(description="host:port[,host:port] of the brokers.")
    consumer: str = Field(
        default="", description="client.id of this worker's consumer (empty: the host name)."
    )
    extra: dict[str, str] = Field(
        default_factory=dict,
        description="More librdkafka settings (security.protocol, sasl.*, ...).",
    )

    def settings(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self.bootstrap_servers,
            "client.id": self.consumer or default_consumer(),
            **self.extra,
        }
