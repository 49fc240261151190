"""How new a dataset's data is: the newest row of the column that dates its rows, against now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import polars as pl

from assets.core.spec_sections import FreshnessSpec

State = Literal["fresh", "late", "stale"]


@dataclass(frozen=True)
class DataFreshness:
    """The newest row's time (None for a table with no dated row), its lag and the verdict:
    ``fresh``, ``late`` (past the warning limit) or ``stale`` (past the maximum lag)."""

    newest: datetime | None
    lag_hours: float | None
    state: State
    warn_after_hours: float | None
    max_lag_hours: float

    @property
    def summary(self) -> str:
        if self.newest is None:
            return "no row has a value in the dating column"
        limit = {"fresh": "within", "late": "past the warning of", "stale": "past the limit of"}
        bound = self.max_lag_hours if self.state != "late" else self.warn_after_hours
        return (
            f"newest row {self.newest.isoformat(timespec='minutes')}, {self.lag_hours:.1f} h "
            f"old: {limit[self.state]} {bound:g} h"
        )


def newest_row(table: pl.LazyFrame, column: str) -> datetime | None:
    """The latest value of ``column`` (a date counts from the end of its day), in UTC.

    A date column says only the day: a row of yesterday may be from 23:59, so the lag runs
    from the end of that day, and a dataset is never called late for rows it could not date
    more finely. A naive datetime is taken as UTC, as conform writes them.
    """
    dtype = table.collect_schema()[column]
    latest = table.select(pl.col(column).max()).collect().item()
    if latest is None:
        return None
    if dtype == pl.Date:
        return datetime.combine(latest, datetime.max.time(), tzinfo=UTC)
    return latest if latest.tzinfo else latest.replace(tzinfo=UTC)


def data_freshness(table: pl.LazyFrame, spec: FreshnessSpec, now: datetime) -> DataFreshness:
    """Judge ``table`` by the newest value of ``spec.column`` at ``now`` (an aware datetime).

    A table with no dated row has nothing fresh in it, so it is stale.
    """
    assert spec.column is not None, "only a dataset that names its dating column is judged"
    assert spec.max_lag_hours is not None  # a column needs a limit (FreshnessSpec)
    newest = newest_row(table, spec.column)
    lag = None if newest is None else max((now - newest).total_seconds() / 3600, 0.0)
    if lag is None or lag > spec.max_lag_hours:
        state: State = "stale"
    elif spec.warn_after_hours is not None and lag > spec.warn_after_hours:
        state = "late"
    else:
        state = "fresh"
    return DataFreshness(
        newest=newest,
        lag_hours=None if lag is None else round(lag, 2),
        state=state,
        warn_after_hours=spec.warn_after_hours,
        max_lag_hours=spec.max_lag_hours,
    )
