"""How the reports print numbers for people: money, shares, counts, seconds, rates and dates.

One module for the three pages, their statements and their chart axes, so a figure reads the
same wherever it appears: ``EUR 49,336``, ``22.7%``, ``20,040``, ``1.25 s``, ``121,400 rows/s``,
``2026-01-01``. Nothing here prints scientific notation or a float's raw ``repr``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

MISSING = "n/a"


def _finite(value: float | None) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def eur(value: float | None, decimals: int = 0) -> str:
    """``EUR 49,336``; negative amounts as ``EUR -1,234``."""
    return f"EUR {value:,.{decimals}f}" if _finite(value) else MISSING


def signed_eur(value: float | None) -> str:
    """A change in money: ``+EUR 1,234`` or ``-EUR 1,234``."""
    if not _finite(value):
        return MISSING
    assert value is not None
    return f"{'-' if value < 0 else '+'}EUR {abs(value):,.0f}"


def pct(share: float | None, decimals: int = 1) -> str:
    """A share (0.227) as ``22.7%``."""
    return f"{share:.{decimals}%}" if _finite(share) else MISSING


def signed_pct(share: float | None, decimals: int = 1) -> str:
    """A change (-0.227) as ``-22.7%``, always with its sign."""
    return f"{share:+.{decimals}%}" if _finite(share) else MISSING


def count(n: int | float | None) -> str:
    """A count with thousands separators: ``20,040``."""
    return f"{round(n):,}" if n is not None and _finite(n) else MISSING


def counted(n: int, one: str, many: str) -> str:
    """A count with its noun: ``1 day``, ``24 days``."""
    return f"{count(n)} {one if n == 1 else many}"


def number(value: float | None, decimals: int = 2) -> str:
    """A plain figure with fixed decimals and thousands separators: ``-1.31``, ``12,345.6``."""
    return f"{value:,.{decimals}f}" if _finite(value) else MISSING


def seconds(value: float | None) -> str:
    """A duration: ``0.12 s``, ``37.95 s``, ``1,234.5 s``."""
    if not _finite(value):
        return MISSING
    assert value is not None
    return f"{value:,.2f} s" if value < 100 else f"{value:,.1f} s"


def rate(value: float | None, unit: str = "rows/s") -> str:
    """A throughput: ``121,400 rows/s`` (three significant figures, never ``1.214e+05``)."""
    if not _finite(value):
        return MISSING
    assert value is not None
    if value >= 1000:
        digits = math.floor(math.log10(value)) - 2
        value = round(value, -digits)
        return f"{value:,.0f} {unit}"
    return f"{value:,.{1 if value >= 10 else 2}f} {unit}"


def day(value: object) -> str:
    """A calendar day, ISO: ``2026-01-01`` (``value`` a date or datetime, as Polars returns
    them; None is missing)."""
    if value is None:
        return MISSING
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not a date: {value!r}")


def days(first: object, last: object) -> str:
    """An inclusive span of days: ``2026-01-01 to 2026-01-30``."""
    return f"{day(first)} to {day(last)}"


def moment(value: object) -> str:
    """A time of day in UTC: ``2026-12-06 23:06:54 UTC`` (a naive datetime is taken as UTC)."""
    if value is None:
        return MISSING
    if not isinstance(value, datetime):
        raise TypeError(f"not a datetime: {value!r}")
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def cell(value: Any) -> str:
    """A table cell's text by the value's type, for columns given no formatter of their own."""
    if value is None:
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return count(value)
    if isinstance(value, float):
        return number(value)
    if isinstance(value, datetime):
        return moment(value)
    if isinstance(value, date):
        return day(value)
    return str(value)


Formatter = Callable[[Any], str]


def axis(formatter: Formatter) -> Callable[[float, Any], str]:
    """A chart tick formatter (matplotlib's ``(value, position)``) from one of these."""
    return lambda value, _position: formatter(value)


def thousands(value: float | None) -> str:
    """An axis tick: whole numbers with separators (``40,000``), or up to two decimals."""
    if not _finite(value):
        return MISSING
    assert value is not None
    if float(value).is_integer():
        return f"{value:,.0f}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")
