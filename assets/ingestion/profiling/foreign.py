"""Foreign keys between the datasets of one folder, from inclusion dependencies: a column (or a
set of columns named as another dataset's key) whose distinct present values are mostly
(``MIN_CONTAINED``) among that dataset's key values.

A column whose name does not point at the parent (``carrier`` -> ``airlines.carrier``,
``customer_id`` -> ``customers.customer_id``) must be text contained almost whole
(``MIN_UNNAMED``): small integers are contained in any integer key by chance. The measured share
of present values that match becomes the suggested ``threshold``; below 1 the foreign key is
proposed with ``severity: warn`` so that the draft quarantines none of the rows it came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import polars as pl

MIN_CONTAINED = 0.5
MIN_UNNAMED = 0.9
FK_TYPES = ("string", "integer", "date", "datetime")


@dataclass
class Table:
    """What the foreign-key search needs of one profiled dataset."""

    name: str
    frame: pl.DataFrame
    kinds: dict[str, str]
    key: list[str]
    free_text: set[str]


@dataclass
class ForeignKey:
    spec: dict[str, Any]
    comment: str
    named: bool
    contained: float
    doubt: str = ""


def _singular(name: str) -> str:
    return name[:-1] if name.endswith("s") else name


def _points_at(column: str, parent: Table) -> bool:
    ref = parent.key[0]
    return column == ref or column.endswith(ref) or _singular(parent.name) in column


def _measure(child: Table, cols: list[str], parent: Table) -> tuple[float, float, int, int, str]:
    """(share of distinct values contained, share of present rows matched, present rows,
    orphan rows, orphan values named)."""
    present = child.frame.select(cols).drop_nulls()
    keys = parent.frame.select(
        [pl.col(r).alias(c) for c, r in zip(cols, parent.key, strict=True)]
    ).unique()
    try:
        orphans = present.join(keys, on=cols, how="anti", nulls_equal=False)
    except pl.exceptions.PolarsError:  # types that do not compare (an integer against a text)
        return 0.0, 0.0, present.height, present.height, ""
    values = present.unique()
    orphan_values = orphans.unique().sort(cols)
    contained = 1 - orphan_values.height / values.height if values.height else 0.0
    matched = 1 - orphans.height / present.height if present.height else 0.0
    shown = ["/".join(str(v) for v in row) for row in orphan_values.head(3).rows()] + (
        ["..."] if orphan_values.height > 3 else []
    )
    return contained, matched, present.height, orphans.height, ", ".join(shown)


def _candidate(child: Table, cols: list[str], parent: Table, named: bool) -> ForeignKey | None:
    contained, matched, present, orphans, shown = _measure(child, cols, parent)
    if not present or contained < (MIN_CONTAINED if named else MIN_UNNAMED):
        return None
    spec: dict[str, Any] = {"columns": cols, "references": parent.name, "ref_columns": parent.key}
    comment = f"{matched:.1%} of {present:,} present values match"
    doubt = ""
    if orphans:
        spec["threshold"] = math.floor(matched * 100) / 100
        spec["severity"] = "warn"
        comment += f"; {orphans:,} orphan rows ({shown})"
        doubt = (
            f"{', '.join(cols)} -> {parent.name}: {orphans:,} rows match no {parent.name} row; "
            "proposed as a warning: make it an error if they are mistakes"
        )
    return ForeignKey(spec, comment, named, contained, doubt)


def foreign_keys(child: Table, tables: list[Table]) -> list[ForeignKey]:
    """The foreign keys proposed for ``child``, at most one per column set."""
    best: dict[tuple[str, ...], ForeignKey] = {}
    for parent in tables:
        if parent.name == child.name or not parent.key:
            continue
        ref_kinds = [parent.kinds[k] for k in parent.key]
        if len(parent.key) > 1:
            cols = list(parent.key)
            if all(child.kinds.get(c) == k for c, k in zip(cols, ref_kinds, strict=True)):
                fk = _candidate(child, cols, parent, named=True)
                if fk is not None:
                    best[tuple(cols)] = fk
            continue
        if ref_kinds[0] not in FK_TYPES:
            continue
        for col, kind in child.kinds.items():
            if kind != ref_kinds[0] or col in child.free_text or child.key == [col]:
                continue
            named = _points_at(col, parent)
            if not named and kind != "string":
                continue
            fk = _candidate(child, [col], parent, named)
            if fk is None:
                continue
            held = best.get((col,))
            if held is None or (fk.named, fk.contained) > (held.named, held.contained):
                best[(col,)] = fk
    return list(best.values())
