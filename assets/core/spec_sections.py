"""Sections of a dataset spec other than columns and rules: source, outliers, thresholds,
partitioning, freshness and blueprint feeds. ``assets.core.spec`` re-exports them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from assets.core.spec_rules import Strict as _Strict
from assets.core.spec_stream import StreamSourceFields


class SourceSpec(StreamSourceFields, _Strict):
    """Where the raw data comes from.

    ``landing`` reads ``<landing root>/<folder>/`` (a local folder or an S3 prefix); ``postgres``
    pulls a ``table`` or a ``query`` from the ``postgres`` resource; ``api`` pages through an
    ``endpoint`` of the ``api`` resource; ``stream`` reads micro-batches of JSON entries from a
    Redis stream or Kafka topic (``assets.core.spec_stream``). With a ``watermark_column``, each
    pull asks only for rows above the largest value already in the lake.
    """

    kind: Literal["landing", "postgres", "api", "stream"] = "landing"
    folder: str | None = None
    table: str | None = Field(default=None, pattern=r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")
    query: str | None = None
    watermark_column: str | None = None
    endpoint: str | None = None
    records_path: str | None = None
    field_map: dict[str, str] = Field(default_factory=dict)
    pagination: Literal["none", "page", "offset", "cursor", "link"] = "none"
    page_size: int = Field(default=100, ge=1, le=100_000)
    params: dict[str, str | int | float | bool] = Field(default_factory=dict)
    next_cursor_path: str = "next_cursor"
    watermark_param: str | None = None

    @model_validator(mode="after")
    def _complete(self) -> SourceSpec:
        if self.kind == "postgres" and (self.table is None) == (self.query is None):
            raise ValueError("table: a postgres source needs exactly one of table or query")
        if self.kind == "api" and not self.endpoint:
            raise ValueError("endpoint: an api source needs an endpoint, e.g. /v1/orders")
        if self.watermark_param and not self.watermark_column:
            raise ValueError("watermark_param: needs watermark_column to know what to send")
        return self


class OutlierSpec(_Strict):
    columns: list[str]
    method: Literal["iqr", "zscore", "both"] = "both"
    iqr_k: float = 3.0
    z_threshold: float = 3.0
    action: Literal["flag", "quarantine"] = "flag"


class ThresholdSpec(_Strict):
    completeness: float = Field(default=0.95, ge=0, le=1)
    uniqueness: float = Field(default=1.0, ge=0, le=1)
    validity: float = Field(default=0.98, ge=0, le=1)
    overall_score: float = Field(default=80.0, ge=0, le=100)
    referential_integrity: float = Field(default=0.99, ge=0, le=1)


class PartitionSpec(_Strict):
    """Daily partitions by the day of ``column``. The first day is one setting for every
    partitioned dataset (``PIPELINE_PARTITION_START``), so jobs can span datasets."""

    column: str
    granularity: Literal["daily"] = "daily"
    start: str | None = Field(default=None, exclude=True)

    @field_validator("start")
    @classmethod
    def _no_start(cls, v: str | None) -> str | None:
        if v is not None:
            raise ValueError(
                "the first partition day is set for all datasets by PIPELINE_PARTITION_START; "
                "remove start"
            )
        return v


class FreshnessSpec(_Strict):
    """How new the data must be. ``max_lag_hours`` bounds the time since the raw table last took
    new rows (Dagster's freshness policy); with ``column`` (a date or datetime column dating the
    rows), the check ``<dataset>_fresh`` also compares the newest row with now: a warning past
    ``warn_after_hours``, an error past ``max_lag_hours``. ``max_lag_hours: null`` is data
    that never goes stale (a reference table loaded once): no freshness policy, no check."""

    column: str | None = None
    max_lag_hours: float | None = Field(default=24.0, gt=0)
    warn_after_hours: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _warn_first(self) -> FreshnessSpec:
        if self.max_lag_hours is None:
            for field in ("column", "warn_after_hours"):
                if getattr(self, field) is not None:
                    raise ValueError(
                        f"{field}: data with no freshness limit (max_lag_hours: null) is "
                        "never judged; give max_lag_hours or drop this field"
                    )
            return self
        if self.warn_after_hours is not None and self.warn_after_hours >= self.max_lag_hours:
            raise ValueError(
                f"warn_after_hours: {self.warn_after_hours:g} must be less than max_lag_hours "
                f"({self.max_lag_hours:g}): the warning comes before the error"
            )
        return self


class BlueprintFeed(_Strict):
    """This dataset feeds a feature blueprint; ``mapping`` maps blueprint fields to columns.

    ``input`` names which blueprint input the dataset fills (needed for churn, whose four inputs
    are customers, orders, support_tickets and usage_events; the others come from the built-in
    tables). Fields the dataset already has under the blueprint's name need no mapping.
    """

    blueprint: Literal["churn", "revenue", "price"]
    input: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    min_coverage: float = Field(default=0.9, ge=0, le=1)
