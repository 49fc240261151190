"""The parts of a dataset spec that name things and judge rows across columns: foreign keys and
row rules, with the identifier rule every name follows. ``assets.core.spec`` builds on these."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

# A rule's or a foreign key's severity: an ``error`` quarantines the rows that break it; a
# ``warn`` keeps them valid and only reports them in a warning check.
Severity = Literal["error", "warn"]


def identifier(what: str, value: str) -> str:
    """``value`` if it is a valid dataset, column or rule name, else a ValueError saying so."""
    if not IDENTIFIER.match(value):
        raise ValueError(f"{what} name {value!r} must match {IDENTIFIER.pattern}")
    return value


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForeignKeySpec(Strict):
    """``columns`` of each row must match ``ref_columns`` of a row of ``references``.

    ``threshold``: the share of present values that must match for the gate to pass (default:
    the dataset's ``thresholds.referential_integrity``); ``severity: warn`` keeps orphan rows
    valid and makes the gate a warning; ``name`` names the gate (``<dataset>_reference_<name>``).
    """

    columns: list[str]
    references: str
    ref_columns: list[str]
    name: str | None = None
    threshold: float | None = Field(default=None, ge=0, le=1)
    severity: Severity = "error"

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str | None) -> str | None:
        return v if v is None else identifier("foreign key", v)

    @property
    def label(self) -> str:
        """The rule name's body: ``fk:<label>`` (``origin->airports``)."""
        return f"{', '.join(self.columns)}->{self.references}"


class NamedRule(Strict):
    """A named row rule. ``severity: warn`` keeps the rows that break it valid; ``threshold``
    (the share of rows that must pass) gives the rule a check of its own,
    ``<dataset>_rule_<name>``, blocking for an error, a warning for a warn rule (which always
    has one, passing only when no row breaks it unless a threshold says otherwise)."""

    name: str
    severity: Severity = "error"
    threshold: float | None = Field(default=None, ge=0, le=1)

    @field_validator("name")
    @classmethod
    def _identifier(cls, v: str) -> str:
        # Rule names become list entries, check metadata and the quarantine's "_rules" text.
        return identifier("rule", v)

    @property
    def has_check(self) -> bool:
        return self.severity == "warn" or self.threshold is not None


class CompareRule(NamedRule):
    """Cross-field rule ``left <op> right * factor`` on one row; nulls on either side pass."""

    kind: Literal["compare"] = "compare"
    left: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    right: str
    factor: float = 1.0
    description: str = ""


class LookupCompareRule(NamedRule):
    """Cross-entity rule: ``left <op> <references>.<ref_column> * factor`` through a foreign key."""

    kind: Literal["lookup_compare"] = "lookup_compare"
    left: str
    op: Literal["<", "<=", ">", ">=", "==", "!="]
    via: str
    references: str
    ref_key: str
    ref_column: str
    factor: float = 1.0
    description: str = ""


class ExpressionRule(NamedRule):
    """Any boolean expression over the row's columns (the grammar of assets/core/expressions),
    e.g. ``turnover + other_rev == total_rev``; with ``tolerance``, ``==`` holds when the sides
    differ by at most that much. A row whose expression is null (a null input) passes."""

    kind: Literal["expression"] = "expression"
    expression: str
    tolerance: float | None = Field(default=None, ge=0)
    description: str = ""


Rule = Annotated[CompareRule | LookupCompareRule | ExpressionRule, Field(discriminator="kind")]
