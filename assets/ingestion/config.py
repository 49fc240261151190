"""Run configuration of the ingestion assets (Dagster ``Config``: shown in the launchpad)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Literal

import dagster as dg
from pydantic import Field, field_validator

from assets.core.spec import DatasetSpec
from assets.core.writers import FORMATS


class SampleDataConfig(dg.Config):
    """How the generator fills the landing zone with sample data."""

    mode: Literal["if_empty", "always", "never"] = Field(
        default="if_empty",
        description="if_empty: generate only when no built-in dataset has landing files; "
        "always: add a fresh batch every run; never: leave the landing zone alone.",
    )
    customers: int = Field(
        default=2_000, ge=10, le=50_000_000, description="Customers to generate."
    )
    orders: int = Field(
        default=20_000, ge=1, le=500_000_000, description="Order lines to generate."
    )
    seed: int = Field(default=7, description="Random seed; the same seed gives the same bytes.")
    defect_rate: float = Field(
        default=0.002,
        ge=0.0,
        le=0.2,
        description="Rate of every planted defect kind except duplicate keys (0 = clean). The "
        "default keeps every quality gate passing while the quarantine shows each kind.",
    )
    duplicate_key_rate: float = Field(
        default=0.0,
        ge=0.0,
        le=0.2,
        description="Rate of rows that reuse an existing key with different content; any of them "
        "fails the keys_unique gate under the block policy, by design.",
    )
    file_format: Literal["csv", "csv.gz", "json", "ndjson", "parquet", "xml"] = Field(
        default="csv", description=f"Landing file format, one of {', '.join(FORMATS)}."
    )


class FreshnessClock(dg.Config):
    """The time a run judges its data's freshness at."""

    as_of: str | None = Field(
        default=None,
        description="Judge the data's freshness as of this ISO time (e.g. 2026-12-07T06:00:00Z) "
        "instead of now: to replay a day's verdict, or in tests.",
    )

    @field_validator("as_of")
    @classmethod
    def _iso(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                datetime.fromisoformat(v)
            except ValueError:
                raise ValueError(
                    f"as_of: {v!r} is not an ISO time like 2026-12-07T06:00:00Z"
                ) from None
        return v

    def now(self) -> datetime:
        """The time freshness is judged at: ``as_of`` (UTC when it names no zone), else now."""
        if self.as_of is None:
            return datetime.now(UTC)
        moment = datetime.fromisoformat(self.as_of)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class IngestConfig(FreshnessClock):
    """How much of a source one run of ``raw_<dataset>`` takes."""

    max_files: int = Field(
        default=0,
        ge=0,
        le=1_000_000,
        description="Read at most this many new files or objects in this run (0 = all); the rest "
        "stay for the next run. Bounds the first run over a large landing-zone backlog.",
    )


class StreamIngestConfig(FreshnessClock):
    """How much of the stream one run of ``raw_<dataset>`` takes."""

    max_events: int = Field(
        default=0,
        ge=0,
        le=100_000_000,
        description="Read at most this many entries in this run (0 = the spec's max_events); "
        "the rest wait for the next run, so a backlog drains in bounded runs.",
    )


def ingestion_config_classes(
    datasets: Iterable[str] | Mapping[str, DatasetSpec],
) -> dict[str, type[dg.Config]]:
    """The ``dg.Config`` class of each ingestion op that takes one, by op name (for the
    launch-time bounds check)."""
    streams = (
        {n for n, s in datasets.items() if s.source.kind == "stream"}
        if isinstance(datasets, Mapping)
        else set()
    )
    return {
        "sample_landing_data": SampleDataConfig,
        **{f"raw_{d}": StreamIngestConfig if d in streams else IngestConfig for d in datasets},
    }
