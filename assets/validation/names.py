"""Lists of rule names per row, built without a list per row in Polars."""

from __future__ import annotations

import polars as pl

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
