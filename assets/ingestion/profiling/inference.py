"""Each column's spec type, with the null tokens, strftime ``format`` or epoch ``unit`` it needs.

Types are tried with the very parsers ingestion casts with (``conform._typed``), so a column
called ``integer`` here is one ingestion casts without a failure. They run on each column's
distinct texts, not its rows (a column of 336,776 flights has at most 7,000 distinct texts), and
a type is first tried on the first distinct texts: one text that fails rejects it, so a column
of names never meets the whole date parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import polars as pl

from assets.core.spec import DEFAULT_NULL_VALUES, ColumnSpec
from assets.ingestion.conform import _typed
from assets.ingestion.parsing import fast_parse

TEXT_CANDIDATES = ("integer", "float", "boolean", "date", "datetime")
POLARS_TO_SPEC = {
    pl.Boolean: "boolean",
    pl.Date: "date",
    pl.Datetime: "datetime",
    pl.Float32: "float",
    pl.Float64: "float",
}
# Spellings of "missing" beyond the default null values (compared trimmed, in lower case): a
# column whose only unparsed texts are among these is drafted typed, with them as null_values.
NULL_LIKE = ["-", "--", "---", "?", ".", "na", "n/a", "n.a.", "nan", "null", "none", "nil"]
NULL_LIKE += ["missing", "#n/a", "(null)", "(blank)"]
FIRST_TRY = 256  # distinct texts a type is tried on before the rest
MAX_STRAYS = 3  # distinct texts a type may fail on (a spreadsheet's #VALUE!) and still be chosen,
STRAY_SHARE = 0.01  # if they hold at most this share of the rows
# strftime formats tried, in order, when ISO 8601 does not read a column: the first that reads
# every text wins, and a second that also does (01/02/2024, day or month first) is reported.
DATE_FORMATS = ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y", "%Y%m%d", "%b %d %Y", "%d %b %Y", "%B %d %Y")
DATE_FORMATS += ("%d %B %Y", "%d-%b-%Y", "%Y/%m/%d")
# Two-digit years last: a full year is never read by them (ingestion holds %Y to four digits).
_SHORT_YEAR = ("%d/%m/%y", "%m/%d/%y", "%d.%m.%y")
DATE_FORMATS += _SHORT_YEAR
DATETIME_FORMATS = tuple(f"{d} %H:%M:%S" for d in ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"))
DATETIME_FORMATS += tuple(f"{d} %H:%M" for d in ("%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y"))
DATETIME_FORMATS += ("%Y%m%d %H%M%S", "%Y%m%d %H%M", "%Y%m%dT%H%M%S", "%d %b %Y %H:%M:%S")
DATETIME_FORMATS += tuple(f"{d} %H:%M" for d in _SHORT_YEAR)
SHORT_YEAR_DOUBT = (
    "two-digit years: 00-69 are read as 2000-2069 and 70-99 as 1970-1999; check the oldest "
    "and newest dates"
)
# A number is an epoch only under a name that says time and in the range of 1973..2033.
EPOCH_NAME = re.compile(r"(^|_)(ts|timestamp|epoch|time|created|updated|at)$|_(at|ts|time)$")
EPOCH_RANGES = {"s": (1e8, 2e9), "ms": (1e11, 2e12)}


# The fields of a column spec that say how its text is read, as a draft writes them.
PARSING_FIELDS = ("null_values", "format", "unit", "decimal_comma")
DECIMAL_COMMA = re.compile(r"^\s*[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?\s*$")


@dataclass
class Inferred:
    """What ingestion needs to read one column, and what the choice rested on."""

    type: str
    null_values: list[str] | None = None  # None: the dataset's list
    format: str | None = None
    unit: str | None = None
    decimal_comma: bool | None = None
    tokens: list[str] = field(default_factory=list)  # null spellings seen in the column
    doubts: list[str] = field(default_factory=list)
    texts: pl.Series | None = None  # a text column's distinct present texts, counted once


def a_kind(kind: str) -> str:
    return f"an {kind}" if kind == "integer" else f"a {kind}"


def spec_type(dtype: pl.DataType) -> str | None:
    if dtype.is_integer():
        return "integer"
    for base, name in POLARS_TO_SPEC.items():
        if isinstance(dtype, base) or dtype == base:
            return name
    return None


def _failures(texts: pl.Series, kind: str, **parsing: str) -> pl.Series:
    """The texts of ``texts`` that ``kind`` (with ``parsing``: format or unit) does not read.
    Ingestion's fast parser reads the usual spelling first; the full parser sees the rest."""
    col = ColumnSpec(name="x", type=kind, **parsing)  # type: ignore[arg-type]
    frame = pl.DataFrame({"x": texts})
    quick = fast_parse(pl.col("x"), col)
    if quick is not None:
        frame = frame.filter(quick.is_null())
    failed = _typed("x", pl.String(), col, ())[1]
    return frame.select(failed.alias("x")).to_series().drop_nulls()


def _reads_all(texts: pl.Series, kind: str, **parsing: str) -> bool:
    return _failures(texts.head(FIRST_TRY), kind, **parsing).is_empty() and (
        len(texts) <= FIRST_TRY or _failures(texts, kind, **parsing).is_empty()
    )


def _values(texts: pl.Series, kind: str, fmt: str) -> pl.Series:
    col = ColumnSpec(name="x", type=kind, format=fmt)  # type: ignore[arg-type]
    return pl.DataFrame({"x": texts}).select(_typed("x", pl.String(), col, ())[0]).to_series()


def _null_like(texts: pl.Series) -> pl.Series:
    return texts.str.strip_chars().str.to_lowercase().is_in(NULL_LIKE)


def _tolerable(strays: pl.Series) -> bool:
    """A few texts without a digit (``#VALUE!``); one with a digit is a value of another form
    (0.5 among integers makes a float column, not a mistake)."""
    return len(strays) <= MAX_STRAYS and not strays.str.contains("[0-9]").any()


def _typed_choice(present: pl.Series, column: pl.Series) -> tuple[str, list[str], list[str]]:
    """The first candidate type reading every present text but null-like spellings and a few
    strays (``MAX_STRAYS`` texts on at most ``STRAY_SHARE`` of the rows, such as ``#VALUE!``);
    those spellings, and those strays."""
    maxlen = present.str.strip_chars().str.len_chars().max() or 0
    leading_zero = present.str.contains(r"^\s*[+-]?0[0-9]").any()
    for kind in TEXT_CANDIDATES:
        if kind == "integer" and leading_zero:
            return "string", [], []  # codes such as 00123 keep their zeros as text
        if kind == "date" and int(maxlen) > 10:  # type: ignore[arg-type]
            continue  # a time of day is present: datetime
        head = _failures(present.head(FIRST_TRY), kind)
        if not _tolerable(head.filter(~_null_like(head))):
            continue
        failed = _failures(present, kind) if len(present) > FIRST_TRY else head
        strays = failed.filter(~_null_like(failed))
        if len(failed) == len(present) or not _tolerable(strays):
            continue
        if len(strays) and column.is_in(strays.to_list()).sum() > STRAY_SHARE * column.len():
            continue
        spellings = sorted(failed.filter(_null_like(failed)).str.strip_chars().unique().to_list())
        return kind, spellings, sorted(strays.to_list())
    return "string", [], []


def _formatted_choice(present: pl.Series) -> Inferred | None:
    """A date or datetime column in one of the common strftime spellings."""
    if present.is_empty() or not present.str.contains(r"[0-9]").all():
        return None
    for kind, formats in (("date", DATE_FORMATS), ("datetime", DATETIME_FORMATS)):
        readers = [f for f in formats if _reads_all(present, kind, format=f)]
        if readers:
            # A second format that reads other dates (day or month first) is a doubt; one that
            # reads the same (%b and %B both read "Jan") is not.
            values = {f: _values(present, kind, f) for f in readers}
            others = [f for f in readers[1:] if not values[f].equals(values[readers[0]])]
            doubts = [f"also reads as {', '.join(repr(f) for f in others)}"] if others else []
            if "%y" in readers[0]:
                doubts.append(SHORT_YEAR_DOUBT)
            return Inferred(kind, format=readers[0], doubts=doubts)
    return None


def _may_be_formatted(head: pl.Series) -> bool:
    """Whether the first texts (missing spellings aside) are dates in one of the strftime
    spellings: when they are not, the whole column is not, and ``_formatted_choice`` is not
    worth the pass over every text that sets the missing spellings aside."""
    return _formatted_choice(head.filter(~_null_like(head))) is not None


def _decimal_comma(present: pl.Series) -> bool:
    """Numbers written with a decimal comma (``317,6``, ``1.234,5``). ``1,234`` alone could be
    a thousand and more in English, so some text must settle it: decimals other than three, or
    dots between thousands before the comma."""
    return bool(
        present.str.contains(DECIMAL_COMMA.pattern).all()
        and present.str.contains(r",(\d{1,2}|\d{4,})\s*$|\.\d{3},").any()
    )


def _epoch_unit(name: str, present: pl.Series) -> str | None:
    if not EPOCH_NAME.search(name.lower()):
        return None
    numbers = present.cast(pl.Float64, strict=False)
    lo, hi = numbers.min(), numbers.max()
    if numbers.null_count() or lo is None or hi is None:
        return None
    for unit, (low, high) in EPOCH_RANGES.items():
        if low <= lo and hi <= high:  # type: ignore[operator]
            return unit
    return None


def infer_text_column(name: str, column: pl.Series, texts: pl.Series | None = None) -> Inferred:
    """The type of a text column (nulls dropped), judged on its distinct ``texts``."""
    texts = column.unique() if texts is None else texts
    stripped = texts.str.strip_chars()
    is_token = stripped.is_in(DEFAULT_NULL_VALUES)
    tokens = sorted(stripped.filter(is_token).unique().to_list())
    present = texts.filter(~is_token)
    if present.is_empty():
        return Inferred("string", tokens=tokens, doubts=["no value present: typed as text"])
    kind, extra, strays = _typed_choice(present, column)
    if kind == "string" and _decimal_comma(present):
        return Inferred(
            "float",
            decimal_comma=True,
            tokens=tokens,
            doubts=["decimal comma: 1,5 is read as 1.5 and a dot separates thousands"],
        )
    if kind == "string" and _may_be_formatted(present.head(FIRST_TRY)):
        missing = _null_like(present)
        formatted = _formatted_choice(present.filter(~missing))
        if formatted is not None:
            extra = sorted(present.filter(missing).str.strip_chars().unique().to_list())
            formatted.tokens = sorted({*tokens, *extra})
            if extra:
                formatted.null_values = [*DEFAULT_NULL_VALUES, *extra]
            return formatted
    if kind in ("integer", "float"):
        unit = _epoch_unit(name, present.filter(~present.str.strip_chars().is_in(extra)))
        if unit is not None:
            return Inferred("datetime", unit=unit, tokens=tokens)
    found = Inferred(kind, tokens=tokens, texts=present if kind == "string" else None)
    if strays:
        shown = ", ".join(repr(t) for t in strays)
        rows = int(column.is_in(strays).sum())
        found.doubts.append(f"{rows:,} rows hold {shown}, not {a_kind(kind)}: flagged at ingestion")
    if extra:
        found.null_values = [*DEFAULT_NULL_VALUES, *extra]
        found.tokens = sorted({*tokens, *extra})
    return found


def infer_frame(df: pl.DataFrame) -> dict[str, Inferred]:
    """Every column's ``Inferred``, from its distinct values."""
    out: dict[str, Inferred] = {}
    text = [c for c, dtype in df.schema.items() if dtype == pl.String]
    # Every text column's distinct texts, one lazy group_by a column run together: a third
    # faster than ``unique`` over 10M rows of text.
    grouped = pl.collect_all(
        [
            df.lazy().select(pl.col(c).alias("text")).drop_nulls().group_by("text").len()
            for c in text
        ]
    )
    texts = {c: g.get_column("text").alias(c) for c, g in zip(text, grouped, strict=True)}
    for name, dtype in df.schema.items():
        native = spec_type(dtype)
        if native is not None:
            out[name] = Inferred(native)
        elif dtype != pl.String:
            out[name] = Inferred("string")
        else:
            out[name] = infer_text_column(name, df.get_column(name).drop_nulls(), texts[name])
    return out


def infer_columns(lf: pl.LazyFrame) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each column's spec type, and the null values of those typed only thanks to texts that
    spell missing outside the default list (``-``, ``?``...): the default list plus those."""
    found = infer_frame(lf.collect())
    types = {c: f.type for c, f in found.items()}
    return types, {c: f.null_values for c, f in found.items() if f.null_values is not None}


def infer_types(lf: pl.LazyFrame) -> dict[str, str]:
    """Each column's spec type: the narrowest type every present value casts to."""
    return infer_columns(lf)[0]
