"""Row rules compiled from a dataset spec into vectorised Polars expressions.

Each ``RowRule`` holds when a row breaks it and a readable reason why; ``flagging.flag_rows``
evaluates them all at once, nothing row by row in Python. Rule names are stable and say what
broke: ``type:quantity``, ``required:email``, ``range:quantity``, ``allowed:channel``,
``pattern:email``, ``unique:order_id``, ``fk:customer_id->customers``, ``rule:closed_after_opened``,
``outlier:quantity``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl

from assets.core.columns import ERRORS_COLUMN, PARTITION, event_day
from assets.core.expressions import compile_expression
from assets.core.frames import join_lookup
from assets.core.spec import (
    ColumnSpec,
    CompareRule,
    DatasetSpec,
    ExpressionRule,
    LookupCompareRule,
)
from assets.core.spec_rules import Severity
from assets.validation.repeats import row_in
from assets.validation.type_hints import format_hint, instant_hint

# The bookkeeping columns of a flagged row (``_row_id``, its position, is ``repeats.ROW_ID``).
RULES = "_rules"
REASONS = "_reasons"
FIXES = "_fixes"
OUTLIERS = "_outliers"
EXACT_DUP = "_exact_duplicate"

COLUMN_KINDS = ("type", "required", "range", "allowed", "pattern", "partition")
CROSS_KINDS = ("fk", "rule")
_OPS = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass(frozen=True)
class RowRule:
    """``failed`` holds where a row breaks the rule; ``reason`` says why. An ``error`` rule
    quarantines the rows that break it; a ``warn`` rule (a spec's ``severity: warn``) keeps them
    valid and only counts them."""

    name: str
    kind: str
    column: str
    failed: pl.Expr
    reason: pl.Expr
    severity: Severity = "error"


def data_columns(schema: Mapping[str, Any]) -> list[str]:
    """Columns that carry data (not lineage or validation bookkeeping)."""
    return [c for c in schema if not c.startswith("_")]


def bound(col: ColumnSpec, value: float | str, today: date) -> Any:
    """A spec bound as a value comparable with the column: numbers, dates, or ``today``."""
    if col.type in ("date", "datetime"):
        day = today if value == "today" else date.fromisoformat(str(value))
        return day if col.type == "date" else datetime(day.year, day.month, day.day)
    return float(value)


def as_text(expr: pl.Expr) -> pl.Expr:
    """A value as text for a reason: ``null`` where missing."""
    return expr.cast(pl.String).fill_null("null")


SHOWN_ALLOWED = 10


def allowed_text(values: Sequence[object]) -> str:
    """The allowed values as a reason names them: a short list whole, a long one by count (a
    reason on every quarantined row must not carry a million values)."""
    if len(values) <= SHOWN_ALLOWED:
        return "one of " + ", ".join(str(v) for v in values)
    return f"one of {len(values):,} allowed values"


def column_rules(spec: DatasetSpec, today: date) -> list[RowRule]:
    rules: list[RowRule] = []
    errors = pl.col(ERRORS_COLUMN)
    for col in spec.columns:
        c = pl.col(col.name)
        # Ingestion keeps text only for values that did not cast, and any text is a string.
        type_failed = (
            errors.is_not_null() & errors.str.contains(f'"{col.name}": ', literal=True)
            if col.type != "string"
            else pl.lit(False)
        )
        if col.type != "string":
            original = errors.str.extract(rf'"{col.name}": "((?:[^"\\]|\\.)*)"', 1)
            rules.append(
                RowRule(
                    f"type:{col.name}",
                    "type",
                    col.name,
                    type_failed.fill_null(False),
                    pl.lit(f"{col.name} is not a valid {col.type}: '")
                    + original
                    + pl.lit("'")
                    + instant_hint(col, original)
                    + format_hint(col, original),
                )
            )
        if col.required:
            rules.append(
                RowRule(
                    f"required:{col.name}",
                    "required",
                    col.name,
                    c.is_null() & ~type_failed.fill_null(False),
                    pl.lit(f"{col.name} is required but missing"),
                )
            )
        if col.min is not None or col.max is not None:
            lo = bound(col, col.min, today) if col.min is not None else None
            hi = bound(col, col.max, today) if col.max is not None else None
            below = (c < lo) if lo is not None else pl.lit(False)
            above = (c > hi) if hi is not None else pl.lit(False)
            rules.append(
                RowRule(
                    f"range:{col.name}",
                    "range",
                    col.name,
                    (below | above).fill_null(False),
                    pl.when(below)
                    .then(
                        pl.lit(f"{col.name} ")
                        + as_text(c)
                        + pl.lit(f" is below the minimum {col.min}")
                    )
                    .otherwise(
                        pl.lit(f"{col.name} ")
                        + as_text(c)
                        + pl.lit(f" is above the maximum {col.max}")
                    ),
                )
            )
        if col.allowed is not None:
            allowed = [str(v) for v in col.allowed] if col.type == "string" else col.allowed
            shown = allowed_text(col.allowed)
            rules.append(
                RowRule(
                    f"allowed:{col.name}",
                    "allowed",
                    col.name,
                    (~c.is_in(allowed)).fill_null(False),
                    pl.lit(f"{col.name} '") + as_text(c) + pl.lit(f"' is not {shown}"),
                )
            )
        if col.regex is not None:
            label = col.pattern if col.pattern in ("email", "phone", "sku") else "the pattern"
            rules.append(
                RowRule(
                    f"pattern:{col.name}",
                    "pattern",
                    col.name,
                    (~c.cast(pl.String).str.contains(col.regex)).fill_null(False),
                    pl.lit(f"{col.name} '") + as_text(c) + pl.lit(f"' does not look like {label}"),
                )
            )
    return rules


def trusted_reference(
    raw: pl.LazyFrame, spec: DatasetSpec, column: str, today: date
) -> pl.LazyFrame:
    """Parent rows whose ``column`` passes its own column rules: what lookup rules compare with.

    A child row is not blamed for a parent value that is itself invalid; that parent row is
    quarantined on its own account.
    """
    own = [r.failed for r in column_rules(spec, today) if r.column == column]
    ok = ~pl.any_horizontal(own) if own else pl.lit(True)
    return raw.filter(ok & pl.col(column).is_not_null())


def _fk_flag(i: int) -> str:
    return f"_fk_{i}_found"


def _lookup_col(i: int) -> str:
    return f"_lookup_{i}"


def attach_references(
    lf: pl.LazyFrame,
    spec: DatasetSpec,
    parent_keys: Mapping[str, pl.LazyFrame],
    lookups: Mapping[str, pl.LazyFrame],
) -> pl.LazyFrame:
    """Join what cross-entity rules need: a found-flag per foreign key, a value per lookup."""
    for i, fk in enumerate(spec.foreign_keys):
        parent = parent_keys.get(fk.references)
        if parent is None:
            continue
        keys = parent.select(
            [pl.col(r).alias(c) for c, r in zip(fk.columns, fk.ref_columns, strict=True)]
        ).drop_nulls()
        if len(fk.columns) == 1:
            # A set-membership test on the parent's keys (held in memory, as a join's hash table
            # would be): no join, so no order to restore. 10M orders against two parents: 2.9 s
            # instead of 4.2 s with order-keeping joins. The set ignores repeats, so the keys
            # are not made distinct first (a Polars unique of 2.5M customer ids: ~180 MB more).
            (column,) = fk.columns
            found = pl.col(column).is_in(keys.collect().to_series().implode())
            lf = lf.with_columns(pl.when(found).then(True).alias(_fk_flag(i)))
        else:
            keys = keys.unique().with_columns(pl.lit(True).alias(_fk_flag(i)))
            lf = join_lookup(lf, keys, fk.columns, maintain_order=True)
    for i, rule in enumerate(spec.rules):
        if isinstance(rule, LookupCompareRule) and rule.references in lookups:
            ref = (
                lookups[rule.references]
                .select(
                    pl.col(rule.ref_key).alias(rule.via),
                    pl.col(rule.ref_column).alias(_lookup_col(i)),
                )
                .drop_nulls(rule.via)
                .unique(subset=[rule.via], keep="first", maintain_order=True)
            )
            lf = join_lookup(lf, ref, rule.via, maintain_order=True)
    return lf


def cross_rules(
    spec: DatasetSpec, parent_keys: Mapping[str, pl.LazyFrame], lookups: Mapping[str, pl.LazyFrame]
) -> list[RowRule]:
    rules: list[RowRule] = []
    for i, fk in enumerate(spec.foreign_keys):
        if fk.references not in parent_keys:
            continue
        present = pl.all_horizontal([pl.col(c).is_not_null() for c in fk.columns])
        cols = ", ".join(fk.columns)
        shown = pl.concat_str([as_text(pl.col(c)) for c in fk.columns], separator=", ")
        rules.append(
            RowRule(
                f"fk:{fk.label}",
                "fk",
                cols,
                present & pl.col(_fk_flag(i)).is_null(),
                pl.lit(f"{cols} '") + shown + pl.lit(f"' has no match in {fk.references}"),
                fk.severity,
            )
        )
    for i, rule in enumerate(spec.rules):
        if isinstance(rule, ExpressionRule):
            rules.append(expression_rule(rule, spec))
            continue
        left = pl.col(rule.left)
        if isinstance(rule, CompareRule):
            right, right_name = pl.col(rule.right), rule.right
        elif rule.references in lookups:
            right, right_name = pl.col(_lookup_col(i)), f"{rule.references}.{rule.ref_column}"
        else:
            continue
        scaled = right * rule.factor if rule.factor != 1.0 else right
        factor = f" x {rule.factor:g}" if rule.factor != 1.0 else ""
        holds = _OPS[rule.op](left, scaled)
        rules.append(
            RowRule(
                f"rule:{rule.name}",
                "rule",
                rule.left,
                (~holds).fill_null(False),
                pl.lit(f"{rule.name}: {rule.left} ")
                + as_text(left)
                + pl.lit(f" is not {rule.op} {right_name}{factor} (")
                + as_text(scaled)
                + pl.lit(")"),
                rule.severity,
            )
        )
    return rules


def expression_rule(rule: ExpressionRule, spec: DatasetSpec) -> RowRule:
    """A row breaks ``rule`` where its expression is false (null passes: a missing input is
    the required rule's business); the reason shows the values of the columns it reads."""
    compiled = compile_expression(
        rule.expression, [c.name for c in spec.columns], tolerance=rule.tolerance
    )
    used = [c.name for c in spec.columns if c.name in compiled.columns]
    values = pl.concat_str([pl.lit(f"{c}=") + as_text(pl.col(c)) for c in used], separator=", ")
    within = f" within {rule.tolerance:g}" if rule.tolerance is not None else ""
    return RowRule(
        f"rule:{rule.name}",
        "rule",
        ", ".join(used),
        (~compiled.expr).fill_null(False),
        pl.lit(f"{rule.name}: {rule.expression} does not hold{within} (") + values + pl.lit(")"),
        rule.severity,
    )


def unique_groups(spec: DatasetSpec) -> list[tuple[list[str], str]]:
    """Column groups whose values must not repeat, each with how its reason ends: the key and
    the unique keys ("repeats a key already seen"), then single unique columns ("repeats")."""
    groups = [(g, "' repeats a key already seen") for g in [spec.key, *spec.unique_keys] if g]
    groups += [
        ([c.name], "' repeats")
        for c in spec.columns
        if c.unique and [c.name] != spec.key and [c.name] not in spec.unique_keys
    ]
    return groups


def uniqueness_rules(spec: DatasetSpec, repeats: list[pl.Series]) -> list[RowRule]:
    """Later rows repeating a key seen earlier; ``repeats`` holds the repeating row ids of each
    of ``unique_groups(spec)`` (exact duplicates are removed before this)."""
    rules = []
    for (group, ending), ids in zip(unique_groups(spec), repeats, strict=True):
        names = ", ".join(group)
        shown = pl.concat_str([as_text(pl.col(c)) for c in group], separator=", ")
        rules.append(
            RowRule(
                f"unique:{names}",
                "unique",
                names,
                row_in(ids),
                pl.lit(f"{names} '") + shown + pl.lit(ending),
            )
        )
    return rules


def partition_rules(spec: DatasetSpec, schema: Mapping[str, Any]) -> list[RowRule]:
    """A row of a daily partition whose date is not that day (its date was missing, unparseable
    or outside the partition window, so ingestion could not place it by date)."""
    if spec.partitioning is None or PARTITION not in schema:
        return []
    column = spec.partitioning.column
    day = event_day(spec)
    return [
        RowRule(
            f"partition:{column}",
            "partition",
            column,
            (day != pl.col(PARTITION)).fill_null(False),
            pl.lit(f"{column} ")
            + as_text(pl.col(column))
            + pl.lit(" is outside its partition ")
            + as_text(pl.col(PARTITION))
            + pl.lit(" (the partition window starts at PIPELINE_PARTITION_START and ends today)"),
        )
    ]


def prior_key_rules(spec: DatasetSpec, prior: pl.LazyFrame | None) -> list[RowRule]:
    """Keys already taken by validated rows of other partitions (``_prior_key`` set by the join
    in ``flag_rows``): a key is unique across the whole table, not just within a day."""
    if prior is None or not spec.key:
        return []
    names = ", ".join(spec.key)
    shown = pl.concat_str([as_text(pl.col(c)) for c in spec.key], separator=", ")
    return [
        RowRule(
            f"unique:{names}",
            "unique",
            names,
            pl.col("_prior_key").is_not_null(),
            pl.lit(f"{names} '") + shown + pl.lit("' is already used in another partition"),
        )
    ]
