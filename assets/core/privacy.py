"""Personal data as people see it: which columns hold it, and the masks applied wherever a
person reads a value (reports, metadata, alerts, log lines, shareable exports).

The lake and the quarantine tables keep the real values: they are for the people allowed to
review them. Everything else goes through ``mask_frame`` (a table), ``mask_texts`` /
``mask_text`` (free text) or ``mask_json`` (nested values):

- a column declared ``pii: true`` is masked by what it holds: an e-mail as ``v***@gmail.com``,
  a phone as ``+33 ** ** ** 12`` (the last two digits kept), a date as its year, other text as
  its first letter (``A***``), anything else as ``***``. One that is part of the key, a unique
  key or a foreign key becomes a keyed hash instead (``h:`` and 16 hex digits of HMAC-SHA256
  under ``PIPELINE_PII_HASH_KEY``): the same value always gives the same hash, so it still joins;
- in every other text column, the row's own personal values (quoted in ``_reason``, kept in
  ``_ingest_errors``) are replaced by their masks, and anything that looks like an e-mail
  address or a phone number is masked by pattern.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any, Literal, TypeVar

import duckdb
import polars as pl

from assets.core.columns import ERRORS_COLUMN
from assets.core.spec import ColumnSpec, DatasetSpec

Mask = Literal["hash", "email", "phone", "year", "initial", "hidden"]

# The key of the keyed hash. The default is public (it is in this file): set your own secret.
HASH_KEY_ENV = "PIPELINE_PII_HASH_KEY"
DEV_HASH_KEY = "dq-pipeline-development-key-change-me"
HASH_HEX_DIGITS = 16

# An e-mail address anywhere in a text: the first character and the domain stay.
EMAIL_PATTERN = (
    r"([A-Za-z0-9._%+\-])[A-Za-z0-9._%+\-]*@"
    r"([A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})"
)
# One digit of a phone number, with what may stand before it: a separator, an opening bracket.
_DIGIT = r"(?:[ .\-]?\(?[0-9]\)?)"
# What may stand before a national number (captured and put back: no look-behind in Polars'
# regular expressions): not a digit, a letter, "_" or ".", which would make it part of a
# decimal (0.0123456789) or an identifier.
_NOT_IN_NUMBER = r"(^|[^0-9A-Za-z_.])"
# Phone numbers anywhere in a text, each with its mask (the last two digits stay). International
# numbers need the "+"; national ones a telephone layout (0 then pairs, a bracketed area code,
# 555-123-4567), so that ISO dates, amounts and identifiers are left alone.
PHONE_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        rf"\+([0-9]{{1,3}})[ .\-]{_DIGIT}{{4,12}}[ .\-]?([0-9])[ .\-]?([0-9])\b",
        "+${1} ** ** ** ${2}${3}",
    ),
    (rf"\+{_DIGIT}{{6,14}}[ .\-]?([0-9])[ .\-]?([0-9])\b", "+** ** ** ${1}${2}"),
    (
        rf"{_NOT_IN_NUMBER}0[0-9](?:[ .\-]?[0-9]{{2}}){{3}}[ .\-]?([0-9]{{2}})\b",
        "${1}** ** ** ${2}",
    ),
    (r"\([0-9]{2,4}\)[ .\-]?[0-9]{3,4}[ .\-]?[0-9]{2}([0-9]{2})\b", "** ** ** ${1}"),
    (
        rf"{_NOT_IN_NUMBER}[0-9]{{3}}[.\-][0-9]{{3}}[.\-][0-9]{{2}}([0-9]{{2}})\b",
        "${1}** ** ** ${2}",
    ),
)
# Whatever any of them would match: a search for it is far cheaper than the replaces.
_ANY_MATCH = "|".join([EMAIL_PATTERN, *(pattern for pattern, _ in PHONE_PATTERNS)])
# The order a row's own values are replaced in other text: a longer value (an e-mail holding
# the name) before a shorter one it may contain.
_REPLACE_ORDER: tuple[Mask, ...] = ("hash", "email", "phone", "year", "initial", "hidden")

Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


def column_mask(column: ColumnSpec, keyed: bool = False) -> Mask:
    """How a personal column is shown: by what it holds, or as a keyed hash when it joins."""
    if keyed:
        return "hash"
    if column.pattern in ("email", "phone"):
        return column.pattern
    if column.type in ("date", "datetime"):
        return "year"
    return "initial" if column.type == "string" else "hidden"


def pii_masks(spec: DatasetSpec) -> dict[str, Mask]:
    """The dataset's ``pii: true`` columns and the mask of each."""
    keyed = (
        set(spec.key)
        | {c for group in spec.unique_keys for c in group}
        | {c for fk in spec.foreign_keys for c in fk.columns}
        | {c.name for c in spec.columns if c.unique}
    )
    return {c.name: column_mask(c, c.name in keyed) for c in spec.columns if c.pii}


def hash_key() -> bytes:
    """The keyed hash's secret: ``PIPELINE_PII_HASH_KEY``, else the public development key."""
    return (os.environ.get(HASH_KEY_ENV) or DEV_HASH_KEY).encode()


def keyed_hash(values: pl.Series, key: bytes | None = None) -> pl.Series:
    """``h:`` and the first 16 hex digits of HMAC-SHA256(key, value) of each value (nulls stay
    null), computed by DuckDB over the whole series; the same as Python's ``hmac`` module."""
    secret = key if key is not None else hash_key()
    if len(secret) > 64:  # HMAC hashes a key longer than the block first
        secret = hashlib.sha256(secret).digest()
    block = secret.ljust(64, b"\0")
    inner = bytes(b ^ 0x36 for b in block)
    outer = bytes(b ^ 0x5C for b in block)
    con = duckdb.connect()
    try:
        con.register("v", pl.DataFrame({"v": values.cast(pl.String)}).to_arrow())
        table = con.sql(
            "SELECT 'h:' || left(sha256($outer || unhex(sha256($inner || encode(v)))), $digits)"
            " AS h FROM v",
            params={"outer": outer, "inner": inner, "digits": HASH_HEX_DIGITS},
        ).to_arrow_table()
    finally:
        con.close()
    return pl.Series(values.name, table.column("h").to_pylist(), dtype=pl.String)


def mask_text_expr(text: pl.Expr) -> pl.Expr:
    """``text`` with every e-mail address and phone number in it masked, by pattern."""
    out = text.str.replace_all(EMAIL_PATTERN, "${1}***@${2}")
    for pattern, mask in PHONE_PATTERNS:
        out = out.str.replace_all(pattern, mask)
    return out


def mask_value_expr(
    value: pl.Expr, mask: Mask, dtype: pl.DataType, key: bytes | None = None
) -> pl.Expr:
    """The mask of a personal value (text; null stays null)."""
    text = value.cast(pl.String)
    first = text.str.strip_chars().str.slice(0, 1)
    if mask == "hash":
        return text.map_batches(partial(keyed_hash, key=key), return_dtype=pl.String)
    if mask == "email":
        domain = text.str.split("@").list.last()
        return (
            pl.when(text.str.contains("@", literal=True))
            .then(first + pl.lit("***@") + domain)
            .otherwise(first + pl.lit("***"))
        )
    if mask == "phone":
        country = text.str.extract(r"^\s*\+([0-9]{1,3})[ .\-(]", 1)
        last_two = text.str.replace_all(r"[^0-9]", "").str.slice(-2)
        return (
            pl.when(country.is_not_null())
            .then(pl.lit("+") + country + pl.lit(" ** ** ** ") + last_two)
            .otherwise(pl.lit("** ** ** ") + last_two)
        )
    if mask == "year":
        if dtype.is_temporal():
            return value.dt.year().cast(pl.String)
        year = text.str.extract(r"([0-9]{4})", 1).fill_null("***")
        return pl.when(text.is_null()).then(None).otherwise(year)
    if mask == "initial":
        return first + pl.lit("***")
    return pl.when(text.is_null()).then(None).otherwise(pl.lit("***"))


def _replace_literal(text: pl.Expr, value: pl.Expr, mask: pl.Expr) -> pl.Expr:
    """Every occurrence of the row's ``value`` in ``text`` replaced by ``mask``."""
    usable = value.is_not_null() & (value.str.len_chars() > 0)
    return pl.when(usable).then(text.str.split(value).list.join(mask)).otherwise(text)


def masked_columns(
    schema: Mapping[str, pl.DataType],
    pii: Mapping[str, Mask] | None = None,
    key: bytes | None = None,
) -> dict[str, pl.Expr]:
    """The masked expression of every column of ``schema`` that can hold personal data: the
    ``pii`` columns (as text), and every other text column with the row's own personal values
    and anything that looks like an e-mail address or a phone number masked."""
    present: dict[str, Mask] = {c: m for c, m in (pii or {}).items() if c in schema}
    masked = {c: mask_value_expr(pl.col(c), m, schema[c], key) for c, m in present.items()}
    # Each personal value as it may appear in other text, with its mask; an uncastable value
    # is null in its column and kept as text in the ingestion errors.
    own: list[tuple[pl.Expr, pl.Expr]] = []
    for c in sorted(present, key=lambda c: _REPLACE_ORDER.index(present[c])):
        own.append((pl.col(c).cast(pl.String), masked[c]))
        if ERRORS_COLUMN in schema and schema[c] != pl.String:
            original = pl.col(ERRORS_COLUMN).str.extract(rf'"{c}": "((?:[^"\\]|\\.)*)"', 1)
            own.append((original, mask_value_expr(original, present[c], pl.String(), key)))
    exprs: dict[str, pl.Expr] = {}
    for name, dtype in schema.items():
        if name in present:
            exprs[name] = masked[name].alias(name)
        elif dtype == pl.String:
            text = pl.col(name)
            for value, mask in own:
                text = _replace_literal(text, value, mask)
            exprs[name] = mask_text_expr(text).alias(name)
        elif dtype == pl.List(pl.String):
            exprs[name] = pl.col(name).list.eval(mask_text_expr(pl.element())).alias(name)
    return exprs


def mask_frame(
    frame: Frame, pii: Mapping[str, Mask] | None = None, key: bytes | None = None
) -> Frame:
    """``frame`` as people may see it (``masked_columns``). Lazy in, lazy out, so an export
    streams through it.

    Without a personal column to mask, a text column is rewritten only where one query (a
    pattern search, no rewrite) finds something to mask in it: rewriting 2.5M churn scores'
    identifiers to no effect took 5 s per export file, the search 0.1 s.
    """
    lazy = frame.lazy()
    schema = lazy.collect_schema()
    exprs = masked_columns(schema, pii, key)
    if not any(c in schema for c in pii or {}):
        exprs = {c: exprs[c] for c in _columns_with_matches(lazy, list(exprs))}
    out = lazy.with_columns(exprs.values()) if exprs else lazy
    return out.collect() if isinstance(frame, pl.DataFrame) else out  # type: ignore[return-value]


def _columns_with_matches(lazy: pl.LazyFrame, columns: list[str]) -> list[str]:
    """Those of the text (or text list) ``columns`` where an e-mail address or phone number
    pattern matches at least once."""
    if not columns:
        return []
    schema = lazy.collect_schema()
    found = lazy.select(
        (
            pl.col(c).str.contains(_ANY_MATCH)
            if schema[c] == pl.String
            else pl.col(c).list.eval(pl.element().str.contains(_ANY_MATCH)).list.any()
        ).any()
        for c in columns
    ).collect()
    return [c for c in columns if found[c][0]]


def mask_texts(texts: Sequence[str]) -> list[str]:
    """Each text with its e-mail addresses and phone numbers masked (one vectorised pass)."""
    if not texts:
        return []
    return (
        pl.Series("t", list(texts), dtype=pl.String)
        .to_frame()
        .select(mask_text_expr(pl.col("t")))["t"]
        .to_list()
    )


def mask_text(text: str) -> str:
    """One text (a log line, a message) with its e-mail addresses and phone numbers masked."""
    return mask_texts([text])[0]


def mask_json(value: Any) -> Any:
    """A JSON-like value (dicts, lists, strings, numbers) with every string in it, keys
    included, masked by ``mask_texts``; numbers, booleans and nulls are kept."""
    found: list[str] = []

    def collect(v: Any) -> None:
        if isinstance(v, str):
            found.append(v)
        elif isinstance(v, Mapping):
            for k, item in v.items():
                collect(str(k))
                collect(item)
        elif isinstance(v, list | tuple):
            for item in v:
                collect(item)

    collect(value)
    masked = iter(mask_texts(found))

    def rebuild(v: Any) -> Any:
        if isinstance(v, str):
            return next(masked)
        if isinstance(v, Mapping):
            out: dict[str, Any] = {}
            for item in v.values():
                k = next(masked)  # keys were collected before their values
                # Two keys may mask alike (two files named by an e-mail): keep both entries.
                while k in out:
                    k += " (again)"
                out[k] = rebuild(item)
            return out
        if isinstance(v, list | tuple):
            return [rebuild(item) for item in v]
        return v

    return rebuild(value)
