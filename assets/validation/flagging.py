"""Flagging raw rows: every row with the rules it breaks (``_rules``) and why (``_reasons``).

The rows come out in two parts, those that break no rule and those that break one, so a query
that needs one part reads only that part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import NamedTuple

import polars as pl

from assets.core.columns import ERRORS_COLUMN
from assets.core.frames import join_lookup
from assets.core.spec import DatasetSpec
from assets.validation.imputation import apply_imputation, imputation_values
from assets.validation.names import names_where
from assets.validation.repeats import ROW_ID, duplicates_and_repeats, row_in
from assets.validation.rules import (
    EXACT_DUP,
    FIXES,
    REASONS,
    RULES,
    RowRule,
    attach_references,
    column_rules,
    cross_rules,
    data_columns,
    partition_rules,
    prior_key_rules,
    unique_groups,
    uniqueness_rules,
)

# Scratch files live for one step: lz4 writes and reads faster than zstd at twice the size.
SCRATCH_COMPRESSION = "lz4"
# The most failing rows whose ids pick the passing rows out (4 bytes each, plus the set);
# beyond, the rules are evaluated again to find them (``_staged_parts``).
MAX_FAILING_IDS = 5_000_000


def _collect_lists(rules: list[RowRule]) -> tuple[pl.Expr, pl.Expr]:
    if not rules:
        empty = pl.lit([], dtype=pl.List(pl.String))
        return empty, empty
    names = names_where([(r.failed, r.name) for r in rules])
    reasons = pl.concat_list(
        [pl.when(r.failed).then(r.reason.cast(pl.String)) for r in rules]
    ).list.drop_nulls()
    return names, reasons


class FlaggedParts(NamedTuple):
    """The flagged rows in two parts: ``passing`` broke no rule, ``failing`` broke one or more.

    A query that needs only one part reads only that part: the quarantine reads the failing
    rows, not the whole table again to find that the passing rows pass.
    """

    passing: pl.LazyFrame
    failing: pl.LazyFrame
    # Rows (not exact duplicates) that break a ``warn`` rule, in either part, with those rules
    # in ``_rules`` and why in ``_reasons``; None when the spec has no warn rule.
    warned: pl.LazyFrame | None = None

    def rows(self) -> pl.LazyFrame:
        """Both parts as one frame: the passing rows, then the failing ones."""
        return pl.concat([self.passing, self.failing])

    def map(self, fn: Callable[[pl.LazyFrame], pl.LazyFrame]) -> FlaggedParts:
        return FlaggedParts(fn(self.passing), fn(self.failing), self.warned)


def flag_rows(
    raw: pl.LazyFrame,
    spec: DatasetSpec,
    *,
    parent_keys: Mapping[str, pl.LazyFrame],
    lookups: Mapping[str, pl.LazyFrame],
    today: date,
    auto_fix: bool = False,
    scratch: Path | None = None,
    prior_keys: pl.LazyFrame | None = None,
) -> FlaggedParts:
    """Every raw row with ``_exact_duplicate``, ``_rules``, ``_reasons`` and ``_fixes``, in a
    passing and a failing part.

    With ``scratch`` (a Parquet path in a temporary folder), the rules are evaluated once and
    the failing rows staged in that file (``_staged_parts``); without, each part stays one lazy
    query (which evaluates the rules again). ``prior_keys`` holds the keys of validated rows
    outside the partitions being validated.
    """
    schema = raw.collect_schema()
    # Two rows are exact duplicates only if what they hold is the same: a value that failed to
    # parse is null in its column and its text in ``_ingest_errors``, so rows whose dates were
    # unreadable in different ways are not one row.
    payload = data_columns(schema) + [ERRORS_COLUMN] * (ERRORS_COLUMN in schema)
    indexed = raw.with_row_index(ROW_ID)
    # Duplicates and repeated keys are found first, on narrow hashes; what remains is one
    # row-wise query (plus joins against parents), which streams in bounded memory.
    scratch_dir = scratch.parent if scratch is not None else None
    duplicates, repeats = duplicates_and_repeats(
        indexed, payload, [group for group, _ in unique_groups(spec)], scratch_dir=scratch_dir
    )
    lf = indexed.with_columns(row_in(duplicates).alias(EXACT_DUP))
    if auto_fix:
        lf = apply_imputation(lf, imputation_values(lf.filter(~pl.col(EXACT_DUP)), spec))
    else:
        lf = lf.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FIXES))
    base = lf
    lf = attach_references(lf, spec, parent_keys, lookups)
    # Uniqueness is judged among rows that are not exact duplicates.
    unique_rules = uniqueness_rules(spec, repeats)
    if prior_keys is not None and spec.key:
        taken = prior_keys.select(spec.key).unique().with_columns(pl.lit(True).alias("_prior_key"))
        lf = join_lookup(lf, taken, spec.key, maintain_order=True)
    rules = [
        *column_rules(spec, today),
        *partition_rules(spec, schema),
        *unique_rules,
        *prior_key_rules(spec, prior_keys),
        *cross_rules(spec, parent_keys, lookups),
    ]
    helper = [c for c in lf.collect_schema() if c.startswith(("_fk_", "_lookup_", "_prior_key"))]
    warn = [r for r in rules if r.severity == "warn"]
    rules = [r for r in rules if r.severity == "error"]
    warned = _warned_rows(lf, warn).drop(helper) if warn else None
    if scratch is None or not rules:
        parts = _explain_failures(lf, rules).map(lambda part: part.drop(helper))
    else:
        parts = _staged_parts(lf, base, rules, helper, scratch)
    return parts._replace(warned=warned)


def _warned_rows(lf: pl.LazyFrame, rules: list[RowRule]) -> pl.LazyFrame:
    """The rows that break a warn rule. Their own query (the joins again): it exists only for
    specs that declare a warn rule, and it leaves the error rules' single pass as it is."""
    names, reasons = _collect_lists(rules)
    failed = pl.any_horizontal([r.failed for r in rules])
    return lf.filter(~pl.col(EXACT_DUP) & failed).with_columns(
        names.alias(RULES), reasons.alias(REASONS)
    )


def _staged_parts(
    lf: pl.LazyFrame, base: pl.LazyFrame, rules: list[RowRule], helper: list[str], scratch: Path
) -> FlaggedParts:
    """Evaluate the rules once, in one pass over the rows (with their joins), and write only the
    rows that break one to ``scratch``, with their outcomes; the passing part is the rows of
    ``base`` (no joins) that are not among them.

    So the failing part, the quarantine's input, is a small file, and no other pass reads the
    joins or the outcomes again. Writing every row's outcomes instead and reading them beside
    the rows cost ~1 s more at 10M orders (the quarantine alone read all 10M rows again).
    """
    outcomes = [f"_rule{i}" for i in range(len(rules))]
    (
        lf.with_columns(*[r.failed.alias(o) for r, o in zip(rules, outcomes, strict=True)])
        .filter(pl.any_horizontal(outcomes))
        .sink_parquet(scratch, compression=SCRATCH_COMPRESSION)
    )
    staged = pl.scan_parquet(scratch)
    read_back = [
        RowRule(r.name, r.kind, r.column, pl.col(o), r.reason)
        for r, o in zip(rules, outcomes, strict=True)
    ]
    failing = _explain_failures(staged, read_back).failing.drop(*helper, *outcomes)
    if staged.select(pl.len()).collect().item() > MAX_FAILING_IDS:  # from the file's metadata
        # So many failures that holding their ids would grow with the table: the passing rows
        # are found by evaluating the rules again (slower, in bounded memory).
        return FlaggedParts(_explain_failures(lf, rules).passing.drop(helper), failing)
    failing_ids = staged.select(ROW_ID).collect().to_series()
    empty = pl.lit([], dtype=pl.List(pl.String))
    passing = base.filter(~row_in(failing_ids)).with_columns(
        empty.alias(RULES), empty.alias(REASONS)
    )
    return FlaggedParts(passing, failing)


def _explain_failures(lf: pl.LazyFrame, rules: list[RowRule]) -> FlaggedParts:
    """``_rules`` and ``_reasons`` lists, built only for rows that broke a rule.

    Building a list and a reason string per rule for every row cost ~85% of flagging 2M orders
    (the reasons format every value as text); rows that pass every rule, nearly all of them,
    get empty lists instead. Each part keeps its input order (``_row_id`` keeps the original
    position).
    """
    empty = pl.lit([], dtype=pl.List(pl.String))
    if not rules:
        passing = lf.with_columns(empty.alias(RULES), empty.alias(REASONS))
        return FlaggedParts(passing, passing.head(0))
    names, reasons = _collect_lists(rules)
    failed = pl.any_horizontal([r.failed for r in rules])
    passing = lf.filter(~failed).with_columns(empty.alias(RULES), empty.alias(REASONS))
    failing = lf.filter(failed).with_columns(names.alias(RULES), reasons.alias(REASONS))
    return FlaggedParts(passing, failing)
