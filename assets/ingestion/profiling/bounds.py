"""Bounds a person would write: the observed range rounded outward to a readable value, or the
natural domain of the quantity when the column's name and its values agree on one."""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from typing import Any

# name pattern -> (low, high): taken only when every observed value lies inside.
NATURAL_DOMAINS: list[tuple[re.Pattern[str], tuple[float, float]]] = [
    (re.compile(r"(^|_)(month|mon)$"), (1, 12)),
    (re.compile(r"(^|_)(hour|hr|hh)$"), (0, 23)),
    (re.compile(r"(^|_)(minute|min|mi)$"), (0, 59)),
    (re.compile(r"(^|_)(second|sec|ss)$"), (0, 59)),
    (re.compile(r"(^|_)(weekday|day_of_week|dow)$"), (0, 7)),
    (re.compile(r"(^|_)(day|dom|day_of_month)$"), (1, 31)),
    (re.compile(r"(^|_)(pct|percent|percentage)(_|$)|_pct$|percent"), (0, 100)),
    (re.compile(r"(^|_)(lat|latitude)$"), (-90, 90)),
    (re.compile(r"(^|_)(lon|lng|long|longitude)$"), (-180, 180)),
]


def natural_domain(name: str, lo: float, hi: float) -> tuple[float, float] | None:
    """The domain the column's name announces, when every observed value lies inside it."""
    low_name = name.lower()
    for pattern, (low, high) in NATURAL_DOMAINS:
        if pattern.search(low_name) and low <= lo and hi <= high:
            return low, high
    return None


def _step(span: float) -> float:
    """One order of magnitude below the span: 17..4983 rounds on hundreds, 20..695 on tens."""
    return 10.0 ** (math.floor(math.log10(span)) - 1)


def readable_bounds(lo: float, hi: float, integer: bool) -> tuple[float, float]:
    """``lo`` and ``hi`` rounded outward on a step of one order below their span (0..5000 for
    17..4983); a constant stays itself. A non-negative minimum never rounds below zero."""
    if hi == lo:
        return lo, hi
    step = _step(hi - lo)
    if integer:
        step = max(step, 1.0)
    low, high = math.floor(lo / step) * step, math.ceil(hi / step) * step
    if integer:
        return int(low), int(high)
    digits = max(0, -math.floor(math.log10(step)))
    return round(low, digits), round(high, digits)


def number_bounds(name: str, lo: float, hi: float, integer: bool) -> tuple[Any, Any, str]:
    """(min, max, why) for a numeric column."""
    domain = natural_domain(name, float(lo), float(hi))
    if domain is not None:
        low, high = domain
        return int(low), int(high), "natural domain"
    if lo == hi:
        return lo, hi, "constant"
    low, high = readable_bounds(float(lo), float(hi), integer)
    return low, high, "observed, rounded outward"


def date_bounds(lo: date | datetime, hi: date | datetime, today: date) -> tuple[str, str, str]:
    """(min, max, why): the first of the first observed month, and ``today`` when nothing lies
    in the future, else the last observed day's month end."""
    first = lo.date() if isinstance(lo, datetime) else lo
    last = hi.date() if isinstance(hi, datetime) else hi
    low = first.replace(day=1).isoformat()
    if last <= today:
        return low, "today", "observed span; nothing after today"
    year, month = (last.year + 1, 1) if last.month == 12 else (last.year, last.month + 1)
    end = date(year, month, 1).toordinal() - 1
    return low, date.fromordinal(end).isoformat(), "observed span, to the month's end"
