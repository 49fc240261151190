"""Row rules compiled from a dataset spec into vectorised Polars expressions.

``flag_rows`` adds to every raw row the names of the rules it breaks (``_rules``) and a readable
reason for each (``_reasons``); nothing is evaluated row by row in Python. Rule names are stable
and say what broke: ``type:quantity``, ``required:email``, ``range:quantity``, ``allowed:channel``,
``pattern:email``, ``unique:order_id``, ``fk:customer_id->customers``, ``rule:closed_after_opened``,
``outlier:quantity``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple

import polars as pl

from assets.core.columns import ERRORS_COLUMN, PARTITION, event_day
from assets.core.frames import join_lookup
from assets.core.spec import (
    ColumnSpec,
    CompareRule,
    DatasetSpec,
    LookupCompareRule,
)

RULES = "_rules"
REASONS = "_reasons"
FIXES = "_fixes"
OUTLIERS = "_outliers"
EXACT_DUP = "_exact_duplicate"
ROW_ID = "_row_id"
_HASH = "_hash"
HASH_COLUMN = _HASH  # the hash column ``repeated_hash_rows`` reads, beside ``ROW_ID``
# Rows per bucket when searching row hashes for repeats: the search takes ~80 bytes a row
# (measured at 10M rows), so it stays near 350 MB whatever the table's size.
HASH_BUCKET_ROWS = 4_000_000
# Scratch files live for one step: lz4 writes and reads faster than zstd at twice the size.
SCRATCH_COMPRESSION = "lz4"
# The most failing rows whose ids pick the passing rows out (4 bytes each, plus the set);
# beyond, the rules are evaluated again to find them (``_staged_parts``).
MAX_FAILING_IDS = 5_000_000
_NO_SHARED_SCAN = pl.QueryOptFlags(comm_subplan_elim=False)

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
    name: str
    kind: str
    column: str
    failed: pl.Expr
    reason: pl.Expr


def data_columns(schema: Mapping[str, Any]) -> list[str]:
    """Columns that carry data (not lineage or validation bookkeeping)."""
    return [c for c in schema if not c.startswith("_")]


def bound(col: ColumnSpec, value: float | str, today: date) -> Any:
    """A spec bound as a value comparable with the column: numbers, dates, or ``today``."""
    if col.type in ("date", "datetime"):
        day = today if value == "today" else date.fromisoformat(str(value))
        return day if col.type == "date" else datetime(day.year, day.month, day.day)
    return float(value)


def _text(expr: pl.Expr) -> pl.Expr:
    return expr.cast(pl.String).fill_null("null")


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
                    pl.lit(f"{col.name} is not a valid {col.type}: '") + original + pl.lit("'"),
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
                        + _text(c)
                        + pl.lit(f" is below the minimum {col.min}")
                    )
                    .otherwise(
                        pl.lit(f"{col.name} ")
                        + _text(c)
                        + pl.lit(f" is above the maximum {col.max}")
                    ),
                )
            )
        if col.allowed is not None:
            allowed = [str(v) for v in col.allowed] if col.type == "string" else col.allowed
            shown = ", ".join(str(v) for v in col.allowed)
            rules.append(
                RowRule(
                    f"allowed:{col.name}",
                    "allowed",
                    col.name,
                    (~c.is_in(allowed)).fill_null(False),
                    pl.lit(f"{col.name} '") + _text(c) + pl.lit(f"' is not one of {shown}"),
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
                    pl.lit(f"{col.name} '") + _text(c) + pl.lit(f"' does not look like {label}"),
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
        shown = pl.concat_str([_text(pl.col(c)) for c in fk.columns], separator=", ")
        rules.append(
            RowRule(
                f"fk:{cols}->{fk.references}",
                "fk",
                cols,
                present & pl.col(_fk_flag(i)).is_null(),
                pl.lit(f"{cols} '") + shown + pl.lit(f"' has no match in {fk.references}"),
            )
        )
    for i, rule in enumerate(spec.rules):
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
                + _text(left)
                + pl.lit(f" is not {rule.op} {right_name}{factor} (")
                + _text(scaled)
                + pl.lit(")"),
            )
        )
    return rules


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


def _row_in(ids: pl.Series) -> pl.Expr:
    return pl.col(ROW_ID).is_in(ids.implode())


def repeat_ids(
    indexed: pl.LazyFrame,
    columns: list[str],
    *,
    skip: pl.Series | None = None,
    present_only: bool = False,
    scratch_dir: Path | None = None,
    bucket_rows: int = HASH_BUCKET_ROWS,
) -> pl.Series:
    """``_row_id`` of every row whose values in ``columns`` equal those of an earlier row.

    Memory stays narrow whatever the row width: one 64-bit hash per row (streamed) finds the
    candidates, the rows whose hash occurs more than once, and only those rows are compared on
    their real values, so a hash collision never flags a row. ``skip``: row ids left out (exact
    duplicates, when judging keys); ``present_only``: rows with a null in ``columns`` are never
    repeats.

    With ``scratch_dir`` the hashes are written there first and searched in buckets of about
    ``bucket_rows`` rows (equal values share a hash, so a bucket by hash is exact): the search
    holds one bucket at a time, so its memory does not grow with the table.
    """
    lf = indexed
    if skip is not None and skip.len():
        lf = lf.filter(~_row_in(skip))
    if present_only:
        lf = lf.filter(pl.all_horizontal([pl.col(c).is_not_null() for c in columns]))
    hashed = lf.select(ROW_ID, pl.struct(columns).hash().alias(_HASH))
    candidates = repeated_hash_rows(hashed, scratch_dir, bucket_rows=bucket_rows)
    if candidates.is_empty():
        return candidates
    exact = (
        lf.filter(_row_in(candidates))
        .select(ROW_ID, *columns)
        .collect(engine="streaming")
        .sort(ROW_ID)
    )
    return exact.filter(~pl.struct(columns).is_first_distinct()).get_column(ROW_ID)


# The most candidate rows (sharing a key hash) whose whole values ``duplicates_and_repeats``
# compares at once (~150 MB for orders); beyond it, a key that repeats that often (a misdeclared
# key) is searched the slower way, exact duplicates on their own hash first, so memory stays
# bounded. The benchmark's defects give ~40k candidates per 10M orders.
COMBINED_SEARCH_ROWS = 1_000_000


def duplicates_and_repeats(
    indexed: pl.LazyFrame,
    payload: list[str],
    groups: list[list[str]],
    *,
    scratch_dir: Path | None = None,
    bucket_rows: int = HASH_BUCKET_ROWS,
    max_candidates: int = COMBINED_SEARCH_ROWS,
) -> tuple[pl.Series, list[pl.Series]]:
    """The exact duplicates (as ``repeat_ids(indexed, payload)``) and, for each of ``groups``,
    the later rows repeating its values among the rest (as ``repeat_ids(indexed, group,
    skip=duplicates, present_only=True)``).

    Two equal rows share their first group's values, so one search of that group's hash (the
    whole row's hash where the group has a null) finds the candidates of both: hashing only the
    key, not every column, took the two searches from ~2.9 s to ~1.4 s for 10M orders. Only
    the candidates' values are compared. Further groups are searched on their own.
    """
    if not groups:
        return repeat_ids(indexed, payload, scratch_dir=scratch_dir, bucket_rows=bucket_rows), []
    first = groups[0]
    present = pl.all_horizontal([pl.col(c).is_not_null() for c in first])
    hashed = indexed.filter(present).select(ROW_ID, pl.struct(first).hash().alias(_HASH))
    # Rows with a null in the group are matched on the whole row. The filter is not pushed
    # below the row index, so hashing them decodes every column of every row (0.43 s at 10M
    # orders) even when there are none: they are counted first, from the group's columns alone
    # (0.14 s).
    null_keyed = indexed.filter(~present)
    if null_keyed.select(pl.len()).collect().item():
        whole_rows = null_keyed.select(ROW_ID, pl.struct(payload).hash().alias(_HASH))
        hashed = pl.concat([hashed, whole_rows])
    candidates = repeated_hash_rows(hashed, scratch_dir, bucket_rows=bucket_rows)
    searched: list[pl.Series] = []
    if candidates.len() > max_candidates:
        duplicates = repeat_ids(indexed, payload, scratch_dir=scratch_dir, bucket_rows=bucket_rows)
    else:
        exact = (
            indexed.filter(_row_in(candidates))
            .select(ROW_ID, *payload)
            .collect(engine="streaming")
            .sort(ROW_ID)
            .rechunk()  # one chunk: the ids become ``is_in`` lists; 120 chunks took 1.5 GB
        )
        is_duplicate = ~pl.struct(payload).is_first_distinct()
        duplicates = exact.filter(is_duplicate).get_column(ROW_ID)
        kept = exact.filter(~is_duplicate & present)
        searched.append(kept.filter(~pl.struct(first).is_first_distinct()).get_column(ROW_ID))
    return duplicates, searched + [
        repeat_ids(
            indexed,
            group,
            skip=duplicates,
            present_only=True,
            scratch_dir=scratch_dir,
            bucket_rows=bucket_rows,
        )
        for group in groups[len(searched) :]
    ]


def repeated_hash_rows(
    hashed: pl.LazyFrame, scratch_dir: Path | None, *, bucket_rows: int = HASH_BUCKET_ROWS
) -> pl.Series:
    """Sorted ``_row_id`` of the rows (``_row_id``, ``_hash``) whose hash occurs more than once.

    With ``scratch_dir`` the hashes are written there first and searched in buckets of about
    ``bucket_rows`` rows (equal hashes share a bucket, so a bucket is exact): the search holds
    one bucket at a time, ~80 bytes a row, so its memory does not grow with the table.
    """
    if scratch_dir is None:
        return _repeated_hashes(hashed).sort()
    fd, name = tempfile.mkstemp(dir=scratch_dir, prefix="hashes-", suffix=".parquet")
    os.close(fd)
    path = Path(name)
    try:
        # Without the shared-scan optimization: hashes built from two queries over one scan
        # (``duplicates_and_repeats``) made Polars cache all the scanned columns, 1.5 GB at 10M
        # orders, where each query reading its own columns holds ~0.5 GB.
        hashed.sink_parquet(path, compression="uncompressed", optimizations=_NO_SHARED_SCAN)
        rows = pl.scan_parquet(path).select(pl.len()).collect().item()
        buckets = max(1, -(-rows // bucket_rows))
        return pl.concat(
            [
                _repeated_hashes(pl.scan_parquet(path).filter(pl.col(_HASH) % buckets == b))
                for b in range(buckets)
            ]
        ).sort()
    finally:
        path.unlink(missing_ok=True)


def _repeated_hashes(hashed: pl.LazyFrame) -> pl.Series:
    """Row ids whose hash occurs more than once in ``hashed``.

    Counting each hash and semi-joining the repeated ones back is twice as fast as
    ``is_duplicated`` (2M hashes: 0.31 s to 0.14 s), which the streaming engine runs in one
    partition.
    """
    repeated = hashed.group_by(_HASH).len().filter(pl.col("len") > 1).select(_HASH)
    return (
        hashed.join(repeated, on=_HASH, how="semi")
        .select(ROW_ID)
        .collect(engine="streaming")
        .to_series()
    )


def uniqueness_rules(spec: DatasetSpec, repeats: list[pl.Series]) -> list[RowRule]:
    """Later rows repeating a key seen earlier; ``repeats`` holds the repeating row ids of each
    of ``unique_groups(spec)`` (exact duplicates are removed before this)."""
    rules = []
    for (group, ending), ids in zip(unique_groups(spec), repeats, strict=True):
        names = ", ".join(group)
        shown = pl.concat_str([_text(pl.col(c)) for c in group], separator=", ")
        rules.append(
            RowRule(
                f"unique:{names}",
                "unique",
                names,
                _row_in(ids),
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
            + _text(pl.col(column))
            + pl.lit(" is outside its partition ")
            + _text(pl.col(PARTITION))
            + pl.lit(" (the partition window starts at PIPELINE_PARTITION_START and ends today)"),
        )
    ]


def prior_key_rules(spec: DatasetSpec, prior: pl.LazyFrame | None) -> list[RowRule]:
    """Keys already taken by validated rows of other partitions (``_prior_key`` set by the join
    in ``flag_rows``): a key is unique across the whole table, not just within a day."""
    if prior is None or not spec.key:
        return []
    names = ", ".join(spec.key)
    shown = pl.concat_str([_text(pl.col(c)) for c in spec.key], separator=", ")
    return [
        RowRule(
            f"unique:{names}",
            "unique",
            names,
            pl.col("_prior_key").is_not_null(),
            pl.lit(f"{names} '") + shown + pl.lit("' is already used in another partition"),
        )
    ]


# The ASCII unit separator: never in a name, since column and rule names are identifiers
# (contracts.IDENTIFIER) and the fixed prefixes ("outlier:", "unique:", ...) hold none.
_NAME_SEP = "\x1f"


def names_where(pairs: list[tuple[pl.Expr, str]]) -> pl.Expr:
    """The list of names whose condition holds, per row (empty where none does).

    Built as a joined string then split (or a literal list for one name): ``concat_list`` of
    ``when``s then ``drop_nulls`` built a list per row, 2.2 s for 10M rows against 0.4 s (one
    name: 0.1 s). Names only: a reason holds row values, which may contain any character.
    """
    empty = pl.lit([], dtype=pl.List(pl.String))
    if not pairs:
        return empty
    if len(pairs) == 1:
        cond, name = pairs[0]
        return pl.when(cond).then(pl.lit([name], dtype=pl.List(pl.String))).otherwise(empty)
    joined = pl.concat_str(
        [pl.when(cond).then(pl.lit(name)) for cond, name in pairs],
        separator=_NAME_SEP,
        ignore_nulls=True,
    )
    return pl.when(joined.str.len_bytes() > 0).then(joined.str.split(_NAME_SEP)).otherwise(empty)


def _collect_lists(rules: list[RowRule]) -> tuple[pl.Expr, pl.Expr]:
    if not rules:
        empty = pl.lit([], dtype=pl.List(pl.String))
        return empty, empty
    names = names_where([(r.failed, r.name) for r in rules])
    reasons = pl.concat_list(
        [pl.when(r.failed).then(r.reason.cast(pl.String)) for r in rules]
    ).list.drop_nulls()
    return names, reasons


def imputation_values(lf: pl.LazyFrame, spec: DatasetSpec) -> dict[str, Any]:
    """auto_fix fill values: the median for numbers, the most frequent value for text.

    Keys, foreign keys and dates are never imputed: a made-up identity or time is worse than a
    quarantined row.
    """
    never = set(spec.key) | {c for fk in spec.foreign_keys for c in fk.columns}
    targets = [c for c in spec.columns if c.required and c.name not in never]
    exprs = []
    for col in targets:
        if col.type in ("integer", "float"):
            exprs.append(pl.col(col.name).median().cast(col.polars_type).alias(col.name))
        elif col.type in ("string", "boolean"):
            exprs.append(pl.col(col.name).drop_nulls().mode().first().alias(col.name))
    if not exprs:
        return {}
    row = lf.select(exprs).collect().row(0, named=True)
    return {k: v for k, v in row.items() if v is not None}


def apply_imputation(lf: pl.LazyFrame, fills: Mapping[str, Any]) -> pl.LazyFrame:
    """Fill missing values (including values that failed to cast), recording each fix."""
    if not fills:
        return lf.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(FIXES))
    fixes = names_where([(pl.col(c).is_null(), f"imputed:{c}") for c in fills])
    errors = pl.col(ERRORS_COLUMN)
    cleaned_errors = errors
    for c in fills:
        # The imputed value replaces the uncastable text; drop that column's entry.
        cleaned_errors = cleaned_errors.str.replace(rf'(, )?"{c}": "(?:[^"\\]|\\.)*"', "")
    cleaned_errors = cleaned_errors.str.replace(r"^\{, ", "{")
    cleaned_errors = pl.when(cleaned_errors == "{}").then(None).otherwise(cleaned_errors)
    return lf.with_columns(fixes.alias(FIXES)).with_columns(
        *[pl.col(c).fill_null(pl.lit(v)) for c, v in fills.items()],
        cleaned_errors.alias(ERRORS_COLUMN),
    )


class FlaggedParts(NamedTuple):
    """The flagged rows in two parts: ``passing`` broke no rule, ``failing`` broke one or more.

    A query that needs only one part reads only that part: the quarantine reads the failing
    rows, not the whole table again to find that the passing rows pass.
    """

    passing: pl.LazyFrame
    failing: pl.LazyFrame

    def rows(self) -> pl.LazyFrame:
        """Both parts as one frame: the passing rows, then the failing ones."""
        return pl.concat([self.passing, self.failing])

    def map(self, fn: Callable[[pl.LazyFrame], pl.LazyFrame]) -> FlaggedParts:
        return FlaggedParts(fn(self.passing), fn(self.failing))


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
    payload = data_columns(schema)
    indexed = raw.with_row_index(ROW_ID)
    # Duplicates and repeated keys are found first, on narrow hashes; what remains is one
    # row-wise query (plus joins against parents), which streams in bounded memory.
    scratch_dir = scratch.parent if scratch is not None else None
    duplicates, repeats = duplicates_and_repeats(
        indexed, payload, [group for group, _ in unique_groups(spec)], scratch_dir=scratch_dir
    )
    lf = indexed.with_columns(_row_in(duplicates).alias(EXACT_DUP))
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
    if scratch is None or not rules:
        return _explain_failures(lf, rules).map(lambda part: part.drop(helper))
    return _staged_parts(lf, base, rules, helper, scratch)


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
    passing = base.filter(~_row_in(failing_ids)).with_columns(
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


# Fences come from at most about this many rows: the exact quantiles hold the column in memory
# (8 bytes a row per column, ~400 MB at 50M rows), and every k-th of more rows pins IQR fences
# down as well (10M rows is the `large` benchmark's orders, whose fences stay exact).
FENCE_SAMPLE_ROWS = 10_000_000


def outlier_fences(
    flagged: pl.LazyFrame, spec: DatasetSpec, *, rows: int | None = None
) -> dict[str, dict[str, float]]:
    """IQR fences and mean/std per outlier column, from rows that pass every other rule.

    ``rows``: how many rows ``flagged`` came from. Beyond ``FENCE_SAMPLE_ROWS``, the fences are
    taken from every k-th of them by ``_row_id`` (the same rows on every run).
    """
    if spec.outliers is None:
        return {}
    o = spec.outliers
    clean = flagged.filter(~pl.col(EXACT_DUP) & (pl.col(RULES).list.len() == 0))
    if rows is not None and rows > FENCE_SAMPLE_ROWS:
        clean = clean.filter(pl.col(ROW_ID) % -(-rows // FENCE_SAMPLE_ROWS) == 0)
    exprs = []
    for c in o.columns:
        x = pl.col(c).cast(pl.Float64)
        exprs += [
            x.quantile(0.25, "linear").alias(f"{c}|q1"),
            x.quantile(0.75, "linear").alias(f"{c}|q3"),
            x.mean().alias(f"{c}|mean"),
            x.std().alias(f"{c}|std"),
        ]
    row = clean.select(exprs).collect().row(0, named=True)
    fences: dict[str, dict[str, float]] = {}
    for c in o.columns:
        q1, q3 = row[f"{c}|q1"], row[f"{c}|q3"]
        if q1 is None or q3 is None:
            continue
        iqr = q3 - q1
        fences[c] = {
            "q1": q1,
            "q3": q3,
            "low": q1 - o.iqr_k * iqr,
            "high": q3 + o.iqr_k * iqr,
            "mean": row[f"{c}|mean"] or 0.0,
            "std": row[f"{c}|std"] or 0.0,
        }
    return fences


def outliers_quarantined(spec: DatasetSpec, *, cap: bool) -> bool:
    """Whether ``flag_outliers`` quarantines outlier rows (adding the outlier to ``_rules``):
    then rows of the passing part can fail."""
    return spec.outliers is not None and spec.outliers.action == "quarantine" and not cap


def flag_outliers(
    flagged: pl.LazyFrame,
    spec: DatasetSpec,
    fences: Mapping[str, Mapping[str, float]],
    *,
    cap: bool,
) -> pl.LazyFrame:
    """Mark outliers in ``_outliers``; quarantine them if the spec says so; cap them if fixing."""
    if spec.outliers is None or not fences:
        return flagged.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(OUTLIERS))
    o = spec.outliers
    marks: list[tuple[pl.Expr, str]] = []
    cap_fixes: list[tuple[pl.Expr, str]] = []
    reasons: list[pl.Expr] = []
    caps: list[pl.Expr] = []
    for c, f in fences.items():
        x = pl.col(c).cast(pl.Float64)
        by_iqr = (x < f["low"]) | (x > f["high"])
        by_z = ((x - f["mean"]).abs() / f["std"] > o.z_threshold) if f["std"] > 0 else pl.lit(False)
        # Only rows that pass every other rule are judged: the rest are quarantined already.
        clean = pl.col(RULES).list.len() == 0
        hit = clean & {"iqr": by_iqr, "zscore": by_z, "both": by_iqr | by_z}[o.method].fill_null(
            False
        )
        marks.append((hit, f"outlier:{c}"))
        reasons.append(
            pl.when(hit).then(
                pl.lit(f"{c} ")
                + _text(pl.col(c))
                + pl.lit(f" is an outlier (IQR fences {f['low']:.4g}..{f['high']:.4g}, ")
                + pl.lit(f"mean {f['mean']:.4g}, std {f['std']:.4g})")
            )
        )
        if cap:
            dtype = spec.column_map[c].polars_type
            caps.append(
                pl.when(hit)
                .then(x.clip(f["low"], f["high"]).cast(dtype))
                .otherwise(pl.col(c))
                .alias(c)
            )
            cap_fixes.append((hit & (pl.col(RULES).list.len() == 0), f"capped:{c}"))
    out = flagged.with_columns(
        names_where(marks).alias(OUTLIERS),
        pl.concat_list(reasons).list.drop_nulls().alias("_outlier_reasons"),
    )
    if outliers_quarantined(spec, cap=cap):
        out = out.with_columns(
            pl.col(RULES).list.concat(pl.col(OUTLIERS)).alias(RULES),
            pl.col(REASONS).list.concat(pl.col("_outlier_reasons")).alias(REASONS),
        )
    if cap:
        out = out.with_columns(
            *caps,
            pl.col(FIXES).list.concat(names_where(cap_fixes)).alias(FIXES),
        )
    return out.drop("_outlier_reasons")
