"""One column's draft entry and the evidence it rests on, from one query over the typed frame.

``allowed`` is proposed only for a low-cardinality text: at most ``MAX_ALLOWED_VALUES`` distinct
values, each held by two rows on average, so the list covers every row and is short enough to
review. Patterns: the spec's named ones (email, phone, sku) or a regex (URL, UUID, ISO country
and currency codes, one fixed shape such as ``AAA-999999``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from assets.core.frames import most_frequent
from assets.core.spec import NAMED_PATTERNS
from assets.ingestion.profiling.bounds import date_bounds, number_bounds
from assets.ingestion.profiling.inference import PARSING_FIELDS, Inferred

MAX_ALLOWED_VALUES = 20
MAX_CODE_LENGTH = 40
TOP_VALUES = 3
FORM_HEAD = 1_000  # distinct values a form is tried on before all of them
REGEX_SPECIAL = set(".^$*+?{}[]\\|()")
PATTERNS = {
    "url": r"^https?://[^\s/$.?#][^\s]*$",
    "uuid": r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
    "alpha2": r"^[A-Z]{2}$",
    "alpha3": r"^[A-Z]{3}$",
    **NAMED_PATTERNS,
}
PHONE_NAME = re.compile(r"phone|tel|mobile|fax")
COUNTRY_NAME = re.compile(r"country|nation")
CURRENCY_NAME = re.compile(r"currency|ccy")
PII_NAME = re.compile(
    r"(^|_)(first_?name|last_?name|full_?name|surname|given_?name|email|e_?mail|phone|"
    r"(customer|person|contact|user|client|employee|patient)_?name|"
    r"mobile|address|street|birth_?date|date_of_birth|dob|birthday|ssn|passport|ip|ip_address|"
    r"zip|postcode|postal_code)($|_)"
)
FREE_TEXT_NAME = re.compile(r"name|comment|note|description|address|title|text|remark")
NOTE_NAME = re.compile(r"comment|note|description|remark|text")  # never a list of values


@dataclass
class ColumnProfile:
    """A column's draft entry, its one-line evidence and what the profiler doubts about it."""

    entry: dict[str, Any]
    evidence: str
    free_text: bool = False
    doubts: list[str] = field(default_factory=list)


def _shape(expr: pl.Expr) -> pl.Expr:
    return (
        expr.str.replace_all(r"[A-Z]", "A")
        .str.replace_all(r"[a-z]", "a")
        .str.replace_all(r"[0-9]", "9")
    )


def shape_regex(shape: str) -> str:
    """``AAA-999999`` -> ``^[A-Z]{3}-[0-9]{6}$``."""
    classes = {"A": "[A-Z]", "a": "[a-z]", "9": "[0-9]"}
    out = []
    for run in re.finditer(r"(.)\1*", shape):
        ch, n = run.group(1), len(run.group(0))
        literal = "\\" + ch if ch in REGEX_SPECIAL else ch
        out.append(f"{classes[ch]}{{{n}}}" if ch in classes else literal * n)
    return "^" + "".join(out) + "$"


def stats_exprs(name: str, kind: str) -> list[pl.Expr]:
    """The statistics of one column, for one ``select`` over the whole typed frame; its
    distinct count comes from ``value_counts``."""
    col = pl.col(name)
    exprs = [col.null_count().alias(f"{name}|nulls")]
    if kind in ("integer", "float", "date", "datetime"):
        exprs += [col.min().alias(f"{name}|min"), col.max().alias(f"{name}|max")]
    if kind == "string":
        exprs.append(col.str.len_chars().max().alias(f"{name}|maxlen"))
    return exprs


def _all_match(values: pl.Series, regex: str) -> bool:
    """Whether every value matches: the first ``FORM_HEAD`` first, where most forms fail."""
    if not values.head(FORM_HEAD).str.contains(regex).all():
        return False
    return len(values) <= FORM_HEAD or bool(values.str.contains(regex).all())


def text_forms(name: str, values: pl.Series, maxlen: int) -> dict[str, Any]:
    """The forms of a text column's distinct ``values`` (keys ``name|...``): which patterns
    every one matches, whether they share one shape, and the share holding a space."""
    p = f"{name}|"
    out: dict[str, Any] = {p + k: _all_match(values, rx) for k, rx in PATTERNS.items()}
    out[p + "digits"] = _all_match(values, r"^[0-9]+$")
    out[p + "spaced"] = values.str.contains(" ", literal=True).mean()
    shapes = pl.select(_shape(pl.lit(values.head(FORM_HEAD))).unique()).to_series()
    one = shapes[0] if len(shapes) == 1 and maxlen <= MAX_CODE_LENGTH else None
    out[p + "shape"] = one
    out[p + "shapes"] = 1 if one is not None and _all_match(values, shape_regex(one)) else 2
    return out


def value_counts(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """Each column's values (``value``, null among them) with their rows (``rows``): its
    distinct count, top values and allowed list all come of it. A lazy ``group_by`` per
    column, run together, costs a third of ``Series.value_counts`` and less than
    ``n_unique`` on text."""
    frames = pl.collect_all(
        [
            df.lazy().select(pl.col(c).alias("value")).group_by("value").len(name="rows")
            for c in df.columns
        ]
    )
    return dict(zip(df.columns, frames, strict=True))


def top_values(counts: pl.DataFrame) -> str:
    """``UA 58,665, B6 54,635, EV 54,173``: the most frequent present values of a column's
    ``value_counts``, ties in value order."""
    top = most_frequent(counts, TOP_VALUES)
    if top.is_empty() or top["rows"].max() == 1:
        return ""
    return ", ".join(f"{_show(v)} {n:,}" for v, n in top.iter_rows())


def _show(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def _pattern(name: str, s: dict[str, Any], prefix: str) -> tuple[str | None, str]:
    """(pattern, what it is) for a text column whose every value has one form."""
    low = name.lower()
    if s[f"{prefix}email"]:
        return "email", "email"
    if s[f"{prefix}phone"] and (PHONE_NAME.search(low) or not s[f"{prefix}digits"]):
        return "phone", "phone"
    if s[f"{prefix}sku"]:
        return "sku", "SKU"
    if s[f"{prefix}url"]:
        return PATTERNS["url"], "URL"
    if s[f"{prefix}uuid"]:
        return PATTERNS["uuid"], "UUID"
    for code, what in ((COUNTRY_NAME, "country"), (CURRENCY_NAME, "currency")):
        if code.search(low):
            for size in ("alpha2", "alpha3"):
                if s[f"{prefix}{size}"]:
                    return PATTERNS[size], f"ISO {what} code"
    shape = s[f"{prefix}shape"] or ""
    if (
        s[f"{prefix}shapes"] == 1
        and (s[f"{prefix}maxlen"] or 0) <= MAX_CODE_LENGTH
        and re.search(r"[A9]", shape)
    ):
        return shape_regex(shape), f"one shape {shape}"
    return None, ""


def column_profile(
    name: str, found: Inferred, s: dict[str, Any], rows: int, counts: pl.DataFrame, today: date
) -> ColumnProfile:
    """The draft entry of column ``name`` from its statistics ``s`` (keys ``name|...``) and its
    ``value_counts``."""
    p = f"{name}|"
    kind = found.type
    nulls, distinct = int(s[p + "nulls"]), counts.height
    present_values = counts.get_column("value").drop_nulls().alias(name)
    present = rows - nulls
    entry: dict[str, Any] = {"name": name, "type": kind}
    for attr in PARSING_FIELDS:
        if getattr(found, attr) is not None:
            entry[attr] = getattr(found, attr)
    if nulls == 0 and rows:
        entry["required"] = True
    values = distinct - (1 if nulls else 0)
    notes = [f"{nulls / rows if rows else 0:.1%} null", f"{values:,} distinct"]
    profile = ColumnProfile(entry, "", doubts=list(found.doubts))
    if kind in ("integer", "float", "date", "datetime") and present:
        lo, hi = s[p + "min"], s[p + "max"]
        notes += [f"min {_show(lo)}", f"max {_show(hi)}"]
        if kind in ("integer", "float"):
            low, high, why = number_bounds(name, lo, hi, kind == "integer")
        else:
            low, high, why = date_bounds(lo, hi, today)
        entry["min"], entry["max"] = low, high
        notes.append(f"bounds: {why}")
    if kind == "string" and present:
        texts = found.texts if found.texts is not None else present_values
        s = s | text_forms(name, texts, int(s[p + "maxlen"] or 0))
        categorical = (
            values <= MAX_ALLOWED_VALUES and values * 2 <= present and not NOTE_NAME.search(name)
        )
        # A few names that repeat (firms, regions: "General Motors") are categories, which a
        # panel's key is made of, not free text.
        profile.free_text = not categorical and bool(
            (s[p + "spaced"] or 0) > 0.5
            or (s[p + "maxlen"] or 0) > MAX_CODE_LENGTH
            or (FREE_TEXT_NAME.search(name.lower()) and values > MAX_ALLOWED_VALUES)
        )
        if categorical:
            entry["allowed"] = sorted(present_values.to_list())
            notes.append(f"{values} value{'s cover' if values > 1 else ' covers'} every row")
        else:
            pattern, what = _pattern(name, s, p)
            if pattern is not None:
                entry["pattern"] = pattern
                notes.append(f"every value: {what}")
        if COUNTRY_NAME.search(name.lower()) and "NA" in found.tokens and "pattern" in entry:
            entry["null_values"] = [t for t in found.tokens if t != "NA"]
            profile.doubts.append("NA kept as a value (Namibia?), not as missing")
    if values == 1 and present and kind not in ("integer", "float"):
        notes.append("constant")
    if PII_NAME.search(name.lower()) or entry.get("pattern") in ("email", "phone"):
        entry["pii"] = True
    # A column unique for nearly every row has no top values worth counting its rows for.
    top = top_values(counts) if values <= 0.9 * present else ""
    if top:
        notes.append(f"top: {top}")
    if found.tokens:
        notes.append(f"missing spelled {', '.join(repr(t) for t in found.tokens)}")
    profile.evidence = "; ".join(notes)
    return profile
