"""Checks, at spec load, of how a column's texts are read: ``format``, ``unit`` and ``timezone``.

Kept apart from the spec model so that it stays a list of fields; each message starts with the
field it is about, which the spec error formatter turns into the field's location.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from functools import cache
from typing import Annotated, Any, TypeVar

import polars as pl
from pydantic import AfterValidator, BaseModel, BeforeValidator

# Texts that mean "missing" unless a spec says otherwise (compared after trimming spaces).
DEFAULT_NULL_VALUES: tuple[str, ...] = ("", "NA", "N/A", "NaN", "null", "NULL", "None")

# The strftime directives the date parser (chrono, through Polars) reads back. ``%Z`` (a zone
# name) is left out: it is accepted there but ignored, which would silently shift the times.
_DIRECTIVE = re.compile(
    r"%(?:[-_0]?[YCygGmbBhdejaAwuUWVDFxvHkIlPpMSRTXrstn%+]|\.?[369]?f|:{0,3}z|#z)"
)
# A directive that reads an offset: such a format gives instants, not local times.
OFFSET_DIRECTIVE = re.compile(r"%(?::{0,3}|#)z")


def _known(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
        pl.Series([None], dtype=pl.Datetime("us")).dt.replace_time_zone(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError, pl.exceptions.PolarsError):
        return False
    return True


@cache
def _zone_names() -> list[str]:
    """The zones both know (the system's zoneinfo lists files such as localtime that Polars'
    own database lacks)."""
    return sorted(n for n in zoneinfo.available_timezones() if _known(n))


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone both zoneinfo and Polars know, else a ValueError."""
    if not _known(name):
        hint = difflib.get_close_matches(name, _zone_names(), n=1)
        suggestion = (
            f"; did you mean {hint[0]!r}?" if hint else " (an IANA name such as Europe/Paris)"
        )
        raise ValueError(f"unknown time zone {name!r}{suggestion}") from None
    return name


def check_format(fmt: str) -> str:
    """``fmt`` if every ``%`` in it starts a directive the parser reads, else a ValueError."""
    if not _DIRECTIVE.search(fmt):
        raise ValueError(f"{fmt!r} has no strftime directive such as %Y or %d")
    covered: set[int] = set()
    for m in _DIRECTIVE.finditer(fmt):
        covered.update(range(m.start(), m.end()))
    for i, ch in enumerate(fmt):
        if ch == "%" and i not in covered:
            bad = fmt[i : i + 2]
            raise ValueError(f"{bad!r} in {fmt!r} is not a strftime directive the parser reads")
    return fmt


def _texts(values: Any) -> Any:
    """YAML reads an unquoted null, NULL or ~ as no value, so the text is lost: ask for quotes.
    A whole number (a sentinel such as -999) stands for its digits."""
    if not isinstance(values, list):
        return values
    if any(v is None for v in values):
        raise ValueError(
            "an unquoted null, NULL or ~ is YAML for no value; quote it to mean the text: "
            '["null", "NULL"]'
        )
    return [str(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in values]


def _trimmed(texts: list[str]) -> list[str]:
    return [t.strip() for t in texts]


NullValues = Annotated[list[str], BeforeValidator(_texts), AfterValidator(_trimmed)]
StrftimeFormat = Annotated[str, AfterValidator(check_format)]
TimeZone = Annotated[str, AfterValidator(check_timezone)]


M = TypeVar("M", bound=BaseModel)


def check_parsing_fields(col: M) -> M:
    """``col`` (a column spec) if its parsing fields fit its type, else a ValueError naming the
    field."""
    kind, fmt, unit, timezone = (getattr(col, f) for f in ("type", "format", "unit", "timezone"))
    if getattr(col, "expression", None) is not None:
        for field in ("null_values", "format", "unit", "timezone"):
            if getattr(col, field) is not None:
                raise ValueError(f"{field}: a derived column is computed, not read from text")
    if getattr(col, "decimal_comma", False) and kind != "float":
        raise ValueError(f"decimal_comma: only a float column reads a decimal comma, not {kind}")
    if fmt is not None and kind not in ("date", "datetime"):
        raise ValueError(f"format: only a date or datetime column takes a format, not {kind}")
    if unit is not None and kind != "datetime":
        raise ValueError(
            f"unit: only a datetime column takes a unit (epoch seconds or milliseconds), not {kind}"
        )
    if unit is not None and fmt is not None:
        raise ValueError("unit: epoch numbers have no format; give either unit or format")
    if timezone is not None and kind not in ("date", "datetime"):
        raise ValueError(f"timezone: only a date or datetime column takes a timezone, not {kind}")
    if timezone is not None and unit is not None:
        raise ValueError("timezone: epoch numbers are instants in UTC; a timezone does not apply")
    return col
