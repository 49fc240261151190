"""Profiling a file into a draft dataset spec (``pipeline-profile``).

Types are inferred with the very parsers ingestion uses to cast (``conform._typed``), so a column
called ``integer`` here is one that ingestion will cast without a single failure. The file is read
through the landing-zone readers (format and encoding detected the same way) in two passes, each
one query over the whole file: first which types every value parses as, then the statistics of
the chosen types (nulls, distinct counts, ranges, patterns, value lists).
"""

from __future__ import annotations

import math
import re
import tempfile
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import yaml

from assets.core.readers import BadFile, detect_format, read_landing_file
from assets.core.spec import DEFAULT_NULL_VALUES, NAMED_PATTERNS, ColumnSpec, DatasetSpec
from assets.core.spec_rules import IDENTIFIER
from assets.ingestion.conform import _typed

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
MAX_ALLOWED_VALUES = 20
RANGE_MARGIN = 0.1  # of the observed span, on each side
MAX_CODE_LENGTH = 40
REGEX_SPECIAL = set(".^$*+?{}[]\\|()")


def _spec_type(dtype: pl.DataType) -> str | None:
    if dtype.is_integer():
        return "integer"
    for base, name in POLARS_TO_SPEC.items():
        if isinstance(dtype, base) or dtype == base:
            return name
    return None


def _present(name: str) -> pl.Expr:
    text = pl.col(name).cast(pl.String)
    return text.is_not_null() & ~text.str.strip_chars().is_in(DEFAULT_NULL_VALUES)


def infer_types(lf: pl.LazyFrame) -> dict[str, str]:
    """Each column's spec type: the narrowest type every present value casts to."""
    return infer_columns(lf)[0]


def _failed(name: str, kind: str) -> pl.Expr:
    return _typed(name, pl.String(), ColumnSpec(name="x", type=kind))[1]  # type: ignore[arg-type]


def _unlisted(failed: pl.Expr) -> pl.Expr:
    """The failed texts that are not a spelling of missing."""
    return failed.is_not_null() & ~failed.str.strip_chars().str.to_lowercase().is_in(NULL_LIKE)


def infer_columns(lf: pl.LazyFrame) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each column's spec type, and the null values of those typed only thanks to texts that
    spell missing outside the default list (``-``, ``?``...): the default list plus those."""
    schema = lf.collect_schema()
    exprs: list[pl.Expr] = []
    decided: dict[str, str] = {}
    for name, dtype in schema.items():
        native = _spec_type(dtype)
        if native is not None:
            decided[name] = native
            continue
        if dtype != pl.String:
            decided[name] = "string"
            continue
        stripped = pl.col(name).str.strip_chars()
        exprs += [
            _present(name).sum().alias(f"{name}|present"),
            stripped.str.len_chars().max().alias(f"{name}|maxlen"),
            stripped.str.contains(r"^[+-]?0[0-9]").any().alias(f"{name}|leading_zero"),
        ]
        for t in TEXT_CANDIDATES:
            failed = _failed(name, t)
            exprs.append(failed.is_not_null().sum().alias(f"{name}|{t}"))
            exprs.append(_unlisted(failed).sum().alias(f"{name}|{t}|unlisted"))
    row = lf.select(exprs).collect().row(0, named=True) if exprs else {}
    tokens: dict[str, str] = {}  # column -> the type its null-like texts were dropped for
    for name in schema.names():
        if name in decided:
            continue
        present = row[f"{name}|present"]
        chosen = "string"
        for t in TEXT_CANDIDATES if present else ():
            failed = row[f"{name}|{t}"]
            if row[f"{name}|{t}|unlisted"] or failed == present:
                continue
            if t == "integer" and row[f"{name}|leading_zero"]:
                break  # codes such as 00123 keep their zeros as text
            if t == "date" and (row[f"{name}|maxlen"] or 0) > 10:
                continue  # a time of day is present: datetime
            chosen = t
            if failed:
                tokens[name] = t
            break
        decided[name] = chosen
    if not tokens:
        return decided, {}
    found = lf.select(
        _failed(c, t).str.strip_chars().drop_nulls().unique().sort().implode().alias(c)
        for c, t in tokens.items()
    ).collect()
    return decided, {c: [*DEFAULT_NULL_VALUES, *found[c][0]] for c in tokens}


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


def _margin_bounds(lo: Any, hi: Any, kind: str) -> tuple[Any, Any]:
    if kind in ("integer", "float"):
        span = float(hi) - float(lo)
        pad = span * RANGE_MARGIN if span > 0 else max(abs(float(hi)) * RANGE_MARGIN, 1.0)
        low, high = float(lo) - pad, float(hi) + pad
        if float(lo) >= 0:
            low = max(low, 0.0)
        if kind == "integer":
            return math.floor(low), math.ceil(high)
        return round(low, 6), round(high, 6)
    first = lo.date() if isinstance(lo, datetime) else lo
    last = hi.date() if isinstance(hi, datetime) else hi
    pad = max(timedelta(days=1), (last - first) * RANGE_MARGIN)
    high = "today" if last <= date.today() else (last + pad).isoformat()
    return (first - pad).isoformat(), high


def profile_frame(lf: pl.LazyFrame, name: str, source_label: str = "") -> dict[str, Any]:
    """A draft spec (a plain mapping, ready for YAML) for the data in ``lf``."""
    types, null_values = infer_columns(lf)
    schema = lf.collect_schema()
    typed = lf.select(
        [
            _typed(
                c,
                schema[c],
                ColumnSpec(name="x", type=t),  # type: ignore[arg-type]
                null_values.get(c, DEFAULT_NULL_VALUES),
            )[0].alias(c)
            for c, t in types.items()
        ]
    )
    exprs: list[pl.Expr] = [pl.len().alias("|rows")]
    for c, t in types.items():
        col = pl.col(c)
        exprs += [col.null_count().alias(f"{c}|nulls"), col.n_unique().alias(f"{c}|distinct")]
        if t in ("integer", "float", "date", "datetime"):
            exprs += [col.min().alias(f"{c}|min"), col.max().alias(f"{c}|max")]
        if t == "string":
            present = col.drop_nulls()
            exprs += [
                _shape(present).n_unique().alias(f"{c}|shapes"),
                _shape(present).first().alias(f"{c}|shape"),
                present.str.len_chars().max().alias(f"{c}|maxlen"),
            ]
            exprs += [
                present.str.contains(rx).all().alias(f"{c}|{label}")
                for label, rx in NAMED_PATTERNS.items()
                if label != "sku"
            ]
    stats = typed.select(exprs).collect().row(0, named=True)
    rows = int(stats["|rows"])
    columns: list[dict[str, Any]] = []
    candidate_keys: list[str] = []
    for c, t in types.items():
        nulls, distinct = int(stats[f"{c}|nulls"]), int(stats[f"{c}|distinct"])
        non_null = rows - nulls
        null_rate = nulls / rows if rows else 0.0
        entry: dict[str, Any] = {"name": c, "type": t}
        if c in null_values:
            entry["null_values"] = null_values[c]
        if nulls == 0 and rows:
            entry["required"] = True
        is_key = rows > 1 and nulls == 0 and distinct == rows and t in ("string", "integer")
        if is_key:
            entry["unique"] = True
            candidate_keys.append(c)
        if t in ("integer", "float", "date", "datetime") and non_null:
            entry["min"], entry["max"] = _margin_bounds(stats[f"{c}|min"], stats[f"{c}|max"], t)
        if t == "string" and non_null:
            # distinct counts null as a value when there is one
            values = distinct - (1 if nulls else 0)
            if not is_key and values <= MAX_ALLOWED_VALUES and values * 2 <= non_null:
                entry["allowed"] = (
                    typed.select(pl.col(c).drop_nulls().unique().sort()).collect()[c].to_list()
                )
            elif stats.get(f"{c}|email"):
                entry["pattern"] = "email"
            elif stats.get(f"{c}|phone"):
                entry["pattern"] = "phone"
            elif (
                stats[f"{c}|shapes"] == 1
                and (stats[f"{c}|maxlen"] or 0) <= MAX_CODE_LENGTH
                and re.search(r"[A9]", stats[f"{c}|shape"] or "")
            ):
                entry["pattern"] = shape_regex(stats[f"{c}|shape"])
        entry["description"] = f"Profiled: {null_rate:.1%} null, {distinct:,} distinct" + (
            " (candidate key)" if is_key else ""
        )
        columns.append(entry)
    key = sorted(candidate_keys, key=lambda k: (not k.endswith("id"), candidate_keys.index(k)))
    draft: dict[str, Any] = {
        "name": name,
        "description": f"Draft profiled from {source_label or 'a file'} ({rows:,} rows); review "
        "every rule before committing.",
        "owner": "team:data-platform",
        "source": {"kind": "landing", "folder": name},
    }
    if key:
        draft["key"] = key[:1]
    draft["columns"] = columns
    DatasetSpec.model_validate(draft)  # a draft that does not load is a bug here, not the user's
    return draft


def profile_file(path: Path, name: str) -> dict[str, Any]:
    """Read ``path`` (CSV, csv.gz, JSON, NDJSON, Parquet or XML) and profile it."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"--name {name!r} must match {IDENTIFIER.pattern}")
    with path.open("rb") as fh:
        head = fh.read(4096)
    fmt = detect_format(path, head)
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        lf, info = read_landing_file(path, fmt, Path(tmp), expected=[])
        draft = profile_frame(lf, name, f"{path.name}, {info['format']}, {info['encoding']}")
    return draft


def to_yaml(draft: dict[str, Any]) -> str:
    header = (
        "# Draft dataset spec written by pipeline-profile: review every rule, describe every\n"
        "# column, then commit it to datasets/ (or $PIPELINE_DATASETS_DIR).\n"
    )
    return header + yaml.safe_dump(draft, sort_keys=False, default_flow_style=None, width=1000)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import os
    import sys

    parser = argparse.ArgumentParser(
        prog="pipeline-profile",
        description="Profile a CSV, JSON, NDJSON, Parquet or XML file into a draft dataset spec: "
        "inferred types, candidate keys, null rates, ranges with a margin, patterns and value "
        "lists. Review the draft, then commit it to datasets/.",
    )
    parser.add_argument("file", type=Path)
    parser.add_argument("--name", required=True, help="dataset name, e.g. invoices")
    parser.add_argument("--out", type=Path, help="write the YAML here (default: stdout)")
    args = parser.parse_args(argv)
    if not args.file.is_file():
        parser.error(f"FILE: no such file: {args.file}")
    try:
        text = to_yaml(profile_file(args.file, args.name))
    except (ValueError, BadFile) as exc:
        parser.error(f"{args.file}: {exc}")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(f".{args.out.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, args.out)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
