"""Quality metrics from flagged rows, and the split into validated and quarantined rows.

Metrics (all shares of the rows left after exact duplicates are removed):
- completeness per column: non-null values (values that failed to cast count as missing);
- uniqueness per key: rows whose key does not repeat an earlier row's;
- validity: rows that break no column rule (type, required, range, allowed values, pattern);
- consistency: rows that break no cross-field or cross-entity rule (foreign keys, comparisons);
- referential integrity per foreign key: non-null references that resolve.

The overall score, 0 to 100, is 30 x validity + 25 x mean completeness of required columns
+ 20 x the lowest key uniqueness + 25 x consistency.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from assets.core.spec import DatasetSpec
from assets.validation.flagging import FlaggedParts
from assets.validation.outliers import outliers_quarantined
from assets.validation.repeats import ROW_ID
from assets.validation.rules import (
    COLUMN_KINDS,
    CROSS_KINDS,
    EXACT_DUP,
    FIXES,
    OUTLIERS,
    REASONS,
    RULES,
)

WEIGHTS = {"validity": 30.0, "completeness": 25.0, "uniqueness": 20.0, "consistency": 25.0}


@dataclass
class QualityReport:
    rows_in: int
    exact_duplicates: int
    rows_checked: int
    valid_rows: int
    quarantined_rows: int
    completeness: dict[str, float]
    uniqueness: dict[str, float]
    referential: dict[str, float]
    validity: float
    consistency: float
    overall_score: float
    rule_failures: dict[str, int] = field(default_factory=dict)
    outliers: dict[str, int] = field(default_factory=dict)
    fixes: dict[str, int] = field(default_factory=dict)
    required_columns: list[str] = field(default_factory=list)
    # Rows that broke each warn rule (kept valid, so not in ``rule_failures``).
    warnings: dict[str, int] = field(default_factory=dict)

    @property
    def required_completeness(self) -> tuple[str, float]:
        """The least complete required column and its completeness."""
        if not self.required_columns:
            return "", 1.0
        col = min(self.required_columns, key=lambda c: self.completeness[c])
        return col, self.completeness[col]

    def metrics(self) -> dict[str, float]:
        """Flat metric name -> value, for history and plotting."""
        out: dict[str, float] = {
            "rows_in": float(self.rows_in),
            "valid_rows": float(self.valid_rows),
            "quarantined_rows": float(self.quarantined_rows),
            "exact_duplicates": float(self.exact_duplicates),
            "validity": self.validity,
            "consistency": self.consistency,
            "overall_score": self.overall_score,
            "required_completeness": self.required_completeness[1],
            "key_uniqueness": min(self.uniqueness.values(), default=1.0),
        }
        out.update({f"completeness:{c}": v for c, v in self.completeness.items()})
        out.update({f"referential:{k}": v for k, v in self.referential.items()})
        return out


def _share(numerator: Any, denominator: Any) -> float:
    return 1.0 if not denominator else round(float(numerator) / float(denominator), 6)


def _aggregations(spec: DatasetSpec) -> tuple[list[pl.Expr], list[pl.Expr]]:
    """The totals of the flagged rows that the metrics come from, and the totals of the kinds
    of rule broken (asked of the rows that broke one only)."""
    has_kind = {
        k: pl.col(RULES).list.eval(pl.element().str.starts_with(f"{k}:")).list.any()
        for k in (*COLUMN_KINDS, *CROSS_KINDS, "unique")
    }
    column_bad = pl.any_horizontal([has_kind[k] for k in COLUMN_KINDS])
    cross_bad = pl.any_horizontal([has_kind[k] for k in CROSS_KINDS])
    kept = ~pl.col(EXACT_DUP)
    aggs = [
        pl.len().alias("rows_in"),
        pl.col(EXACT_DUP).sum().alias("exact_duplicates"),
        (kept & (pl.col(RULES).list.len() == 0)).sum().alias("valid_rows"),
        (kept & (pl.col(RULES).list.len() > 0)).sum().alias("quarantined_rows"),
    ]
    aggs += [
        (kept & pl.col(c.name).is_not_null()).sum().alias(f"nn|{c.name}") for c in spec.columns
    ]
    for group in [spec.key, *spec.unique_keys]:
        if group:
            name = ", ".join(group)
            present = pl.all_horizontal([pl.col(c).is_not_null() for c in group])
            aggs.append((kept & present).sum().alias(f"keys|{name}"))
    for fk in spec.foreign_keys:
        present = pl.all_horizontal([pl.col(c).is_not_null() for c in fk.columns])
        aggs.append((kept & present).sum().alias(f"refs|{fk.label}"))
    return aggs, [column_bad.sum().alias("column_bad"), cross_bad.sum().alias("cross_bad")]


def _with_outliers(flagged: pl.LazyFrame) -> pl.LazyFrame:
    if OUTLIERS not in flagged.collect_schema():
        return flagged.with_columns(pl.lit([], dtype=pl.List(pl.String)).alias(OUTLIERS))
    return flagged


def _counts_of(kept_rows: pl.LazyFrame, column: str, by: list[str]) -> pl.LazyFrame:
    return (
        kept_rows.select(*by, pl.col(column).alias("name"))
        .explode("name")
        .drop_nulls("name")
        .group_by(*by, "name")
        .len()
    )


def measure(
    flagged: pl.LazyFrame, spec: DatasetSpec, warned: pl.LazyFrame | None = None
) -> QualityReport:
    """All metrics in two small aggregations over the flagged frame; ``warned``: the rows
    that broke a warn rule (``FlaggedParts.warned``), which count for referential integrity
    but not against the score."""
    aggs, kinds = _aggregations(spec)
    flagged = _with_outliers(flagged)
    kept_rows = flagged.filter(~pl.col(EXACT_DUP))
    # Which kinds of rule a row broke is asked of the rows that broke one only: the list
    # search costs as much per empty list as per full one, and nearly every row passes.
    broke = kept_rows.filter(pl.col(RULES).list.len() > 0).select(kinds)
    # Five collects, not one ``collect_all``: on Polars 2 the shared scan of a ``collect_all``
    # buffers what its slower consumers have not read, which grew with the table (its peak at
    # 50M orders 1,649 MB against 1,118 MB at 10M), and it was slower than the five apart
    # (10.4 s against 6.9 s at 50M).
    totals, bad_kinds, counts, outlier_counts, fix_counts = (
        query.collect(engine="streaming")
        for query in (
            flagged.select(aggs),
            broke,
            _counts_of(kept_rows, RULES, []),
            _counts_of(kept_rows, OUTLIERS, []),
            _counts_of(kept_rows, FIXES, []),
        )
    )
    warnings: dict[str, int] = {}
    if warned is not None:
        warned_counts = warned.select(pl.col(RULES).explode().alias("name")).group_by("name")
        warnings = {r: int(n) for r, n in warned_counts.len().collect().iter_rows()}
    return quality_report(
        spec,
        totals.row(0, named=True) | bad_kinds.row(0, named=True),
        failures={r: int(n) for r, n in counts.iter_rows()},
        warnings=warnings,
        outliers={r: int(n) for r, n in outlier_counts.iter_rows()},
        fixes={r: int(n) for r, n in fix_counts.iter_rows()},
    )


def measure_by(
    flagged: pl.LazyFrame, spec: DatasetSpec, by: str, warned: pl.LazyFrame | None = None
) -> dict[Any, QualityReport]:
    """``measure`` for each value of column ``by`` (each day of a partitioned run): the same
    aggregations, grouped, so every group costs no extra pass over the rows."""
    aggs, kinds = _aggregations(spec)
    flagged = _with_outliers(flagged)
    kept_rows = flagged.filter(~pl.col(EXACT_DUP))
    broke = kept_rows.filter(pl.col(RULES).list.len() > 0).group_by(by).agg(kinds)
    totals, bad_kinds, counts, outlier_counts, fix_counts = (
        query.collect(engine="streaming")
        for query in (
            flagged.group_by(by).agg(aggs),
            broke,
            _counts_of(kept_rows, RULES, [by]),
            _counts_of(kept_rows, OUTLIERS, [by]),
            _counts_of(kept_rows, FIXES, [by]),
        )
    )
    warned_counts = pl.DataFrame(
        schema={by: totals.schema[by], "name": pl.String, "len": pl.UInt32}
    )
    if warned is not None:
        warned_counts = (
            warned.select(by, pl.col(RULES).alias("name"))
            .explode("name")
            .group_by(by, "name")
            .len()
        ).collect()

    def named(frame: pl.DataFrame, key: Any) -> dict[str, int]:
        rows = frame.filter(pl.col(by) == key).select("name", "len").iter_rows()
        return {r: int(n) for r, n in rows}

    no_kinds = {"column_bad": 0, "cross_bad": 0}
    kinds_by = {r[by]: r for r in bad_kinds.iter_rows(named=True)}
    return {
        row[by]: quality_report(
            spec,
            row | no_kinds | {k: v for k, v in kinds_by.get(row[by], {}).items() if k != by},
            failures=named(counts, row[by]),
            warnings=named(warned_counts, row[by]),
            outliers=named(outlier_counts, row[by]),
            fixes=named(fix_counts, row[by]),
        )
        for row in totals.iter_rows(named=True)
    }


def quality_report(
    spec: DatasetSpec,
    row: dict[str, Any],
    *,
    failures: dict[str, int],
    warnings: dict[str, int],
    outliers: dict[str, int],
    fixes: dict[str, int],
) -> QualityReport:
    """The metrics from the totals ``row`` of ``_aggregations`` and the rules' row counts."""
    checked = int(row["rows_in"]) - int(row["exact_duplicates"])
    completeness = {c.name: _share(row[f"nn|{c.name}"], checked) for c in spec.columns}
    uniqueness = {}
    for group in [spec.key, *spec.unique_keys]:
        if group:
            name = ", ".join(group)
            uniqueness[name] = (
                1.0 - _share(failures.get(f"unique:{name}", 0), row[f"keys|{name}"])
                if row[f"keys|{name}"]
                else 1.0
            )
    referential = {}
    for fk in spec.foreign_keys:
        present = row[f"refs|{fk.label}"]
        orphans = (warnings if fk.severity == "warn" else failures).get(f"fk:{fk.label}", 0)
        referential[fk.label] = 1.0 - _share(orphans, present) if present else 1.0
    validity = _share(checked - int(row["column_bad"]), checked)
    consistency = _share(checked - int(row["cross_bad"]), checked)
    required = [c.name for c in spec.columns if c.required]
    req_complete = sum(completeness[c] for c in required) / len(required) if required else 1.0
    score = (
        WEIGHTS["validity"] * validity
        + WEIGHTS["completeness"] * req_complete
        + WEIGHTS["uniqueness"] * min(uniqueness.values(), default=1.0)
        + WEIGHTS["consistency"] * consistency
    )
    return QualityReport(
        rows_in=int(row["rows_in"]),
        exact_duplicates=int(row["exact_duplicates"]),
        rows_checked=checked,
        valid_rows=int(row["valid_rows"]),
        quarantined_rows=int(row["quarantined_rows"]),
        completeness=completeness,
        uniqueness=uniqueness,
        referential=referential,
        validity=validity,
        consistency=consistency,
        overall_score=round(score, 3),
        rule_failures=dict(sorted(failures.items())),
        outliers=outliers,
        fixes=fixes,
        required_columns=required,
        warnings=dict(sorted(warnings.items())),
    )


def valid_rows(flagged: pl.LazyFrame) -> pl.LazyFrame:
    return flagged.filter(~pl.col(EXACT_DUP) & (pl.col(RULES).list.len() == 0)).drop(
        RULES, REASONS, EXACT_DUP, ROW_ID
    )


def outcome_tables(
    parts: FlaggedParts, spec: DatasetSpec, *, cap: bool
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """The validated and the quarantined table of flagged parts whose outliers are marked.

    Valid rows are all in the passing part, so the validated table reads only that part; the
    quarantine reads only the rows that can break a rule (``ruled_rows``).
    """
    bad = quarantined_rows(ruled_rows(parts, spec, cap=cap)).drop(OUTLIERS)
    return valid_rows(parts.passing), bad


def ruled_rows(parts: FlaggedParts, spec: DatasetSpec, *, cap: bool) -> pl.LazyFrame:
    """The rows that can have broken a rule: the failing part, and the passing one too when
    outliers are quarantined (``flag_outliers`` then adds rules to passing rows)."""
    return parts.rows() if outliers_quarantined(spec, cap=cap) else parts.failing


def quarantined_rows(flagged: pl.LazyFrame) -> pl.LazyFrame:
    """Failing rows with their original values, the rules they broke (``_rules``, a list: a
    composite key's rule name holds ", " itself) and why (``_reason``, one text)."""
    return (
        flagged.filter(~pl.col(EXACT_DUP) & (pl.col(RULES).list.len() > 0))
        .with_columns(pl.col(REASONS).list.join("; ").alias("_reason"))
        .drop(REASONS, EXACT_DUP, ROW_ID)
    )
