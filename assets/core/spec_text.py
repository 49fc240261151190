"""A dataset spec's rules in words, for people: the data dictionary's pages and the column
schema the Dagster UI shows both print them from here, so the two always say the same."""

from __future__ import annotations

from assets.core.spec import ColumnSpec, DatasetSpec
from assets.core.spec_rules import CompareRule, ExpressionRule, ForeignKeySpec, LookupCompareRule

# A column rule sends the row that breaks it to quarantine; its gate's severity is the policy's.
COLUMN_RULE_SEVERITY = "error"


def _value(v: object) -> str:
    if isinstance(v, int | float):
        return number_text(v)
    return str(v)


def number_text(v: float) -> str:
    """A value of the data, to two decimals at most: separators from 10,000 up only, so a year
    reads 1935, not 1,935, and a bound beside it (1500) reads the same way."""
    sep = "," if abs(v) >= 10_000 else ""
    if float(v).is_integer():
        return f"{v:{sep}.0f}"
    return f"{v:{sep}.2f}".rstrip("0").rstrip(".")


def column_rules(column: ColumnSpec) -> list[str]:
    """Each declared rule and parsing setting of ``column``, one short phrase each."""
    out = []
    if column.expression is not None:
        out.append(f"derived: {column.expression}")
    if column.required:
        out.append("required")
    if column.unique:
        out.append("unique")
    if column.min is not None and column.max is not None:
        out.append(f"between {_value(column.min)} and {_value(column.max)}")
    elif column.min is not None:
        out.append(f"at least {_value(column.min)}")
    elif column.max is not None:
        out.append(f"at most {_value(column.max)}")
    if column.allowed is not None:
        out.append("one of: " + ", ".join(_value(v) for v in column.allowed))
    if column.pattern is not None:
        named = column.regex != column.pattern
        out.append(f"matches {column.pattern}" + ("" if named else " (regular expression)"))
    if column.format is not None:
        out.append(f"read with format {column.format}")
    if column.decimal_comma:
        out.append("read with a decimal comma (1.234,5)")
    if column.unit is not None:
        out.append(f"epoch {'seconds' if column.unit == 's' else 'milliseconds'}")
    if column.timezone is not None:
        out.append(f"time zone {column.timezone}")
    if column.null_values is not None:
        shown = ", ".join(repr(v) for v in column.null_values) or "none"
        out.append(f"missing when: {shown}")
    return out


def foreign_key_text(fk: ForeignKeySpec) -> str:
    pairs = ", ".join(
        f"{c} -> {fk.references}.{r}" for c, r in zip(fk.columns, fk.ref_columns, strict=True)
    )
    return f"foreign key {pairs}"


def rule_text(rule: CompareRule | LookupCompareRule | ExpressionRule) -> str:
    """The condition a row must meet, as declared."""
    if isinstance(rule, ExpressionRule):
        tolerance = "" if rule.tolerance is None else f" (== within {_value(rule.tolerance)})"
        return f"{rule.expression}{tolerance}"
    factor = "" if rule.factor == 1.0 else f" * {_value(rule.factor)}"
    if isinstance(rule, CompareRule):
        return f"{rule.left} {rule.op} {rule.right}{factor}"
    return (
        f"{rule.left} {rule.op} {rule.references}.{rule.ref_column}{factor} "
        f"(matched on {rule.via} = {rule.references}.{rule.ref_key})"
    )


def table_rules(spec: DatasetSpec) -> list[str]:
    """The rules over several columns or rows: key, unique keys, foreign keys, row rules."""
    out = []
    if spec.key:
        out.append(f"key: {', '.join(spec.key)} (unique)")
    out += [f"unique together: {', '.join(group)}" for group in spec.unique_keys]
    out += [f"{foreign_key_text(fk)} ({fk.severity})" for fk in spec.foreign_keys]
    out += [f"rule {r.name}: {rule_text(r)} ({r.severity})" for r in spec.rules]
    return out
