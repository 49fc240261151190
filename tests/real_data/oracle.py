"""What the pipeline must find in a landing file, computed with DuckDB SQL on the raw file alone.

Nothing here imports pipeline code beyond the spec model it reads rules from: the file is read
by DuckDB's CSV reader, typed by SQL casts, and every rule of the spec is restated as a SQL
predicate, so a pipeline bug and an oracle bug would have to agree to go unnoticed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import duckdb

from assets.core.spec import NAMED_PATTERNS, CompareRule, DatasetSpec, ForeignKeySpec

# What a spec without ``null_values`` takes for missing (compared after trimming spaces).
DEFAULT_MISSING = ("", "NA", "N/A", "NaN", "null", "NULL", "None")
_IDENT = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


def ident(name: str) -> str:
    """A spec name as a quoted SQL identifier (spec names are already checked identifiers)."""
    if not _IDENT.match(name):
        raise ValueError(f"not a spec identifier: {name!r}")
    return f'"{name}"'


def literal(text: str) -> str:
    """A text as a SQL string literal (DDL such as CREATE VIEW takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


def header_name(text: str) -> str:
    """A file header as a spec column name: lower case, runs of other characters as ``_``."""
    return re.sub(r"[^0-9a-z]+", "_", text.strip().lower()).strip("_")


def connect() -> duckdb.DuckDBPyConnection:
    """One thread, so ``row_number() OVER ()`` numbers the rows in file order; UTC session."""
    con = duckdb.connect()
    con.execute("SET threads = 1")
    con.execute("SET TimeZone = 'UTC'")
    return con


def _typed(text: str, kind: str, fmt: str | None = None) -> str:
    if fmt is not None:
        parsed = f"TRY_STRPTIME(trim({text}), {literal(fmt)})"
        return f"CAST({parsed} AS DATE)" if kind == "date" else parsed
    if kind == "integer":
        number = f"TRY_CAST(trim({text}) AS DOUBLE)"
        return f"CASE WHEN {number} = floor({number}) THEN CAST({number} AS BIGINT) END"
    if kind == "float":
        return f"TRY_CAST(trim({text}) AS DOUBLE)"
    if kind == "date":
        return f"TRY_CAST(trim({text}) AS DATE)"
    if kind == "datetime":
        return f"timezone('UTC', TRY_CAST(trim({text}) AS TIMESTAMPTZ))"
    if kind == "boolean":
        low = f"lower(trim({text}))"
        return (
            f"CASE WHEN {low} IN ('true', 't', 'yes', 'y', '1') THEN true "
            f"WHEN {low} IN ('false', 'f', 'no', 'n', '0') THEN false END"
        )
    return text


def missing_texts(spec: DatasetSpec, column: str) -> tuple[str, ...]:
    """The column's ``null_values``, else the dataset's, else the default list."""
    own = getattr(spec.column_map[column], "null_values", None)
    if own is not None:
        return tuple(own)
    return tuple(getattr(spec, "null_values", DEFAULT_MISSING))


def load_source(
    con: duckdb.DuckDBPyConnection,
    view: str,
    path: Path,
    spec: DatasetSpec,
    derived: Mapping[str, str] = {},
) -> None:
    """Create ``view``: the file's rows numbered from 1 (``_row_number``), each spec column
    typed (``<col>``) beside its text (``t_<col>``); ``derived``: SQL for computed columns."""
    text_view = ident(view + "_text")
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {text_view} AS SELECT row_number() OVER () AS "  # noqa: S608 - identifiers checked by ident(), the path quoted by literal()
        f"_row_number, * FROM read_csv({literal(str(path))}, header = true, all_varchar = true)"
    )
    headers = [r[0] for r in con.execute(f"DESCRIBE {text_view}").fetchall()][1:]
    by_name = {header_name(h): h for h in headers}
    columns = []
    for col in spec.columns:
        if col.name in derived:
            continue
        text = '"' + by_name[col.name].replace('"', '""') + '"' if col.name in by_name else "NULL"
        missing = ", ".join(literal(m) for m in missing_texts(spec, col.name))
        raw = (
            f"CASE WHEN trim({text}) IN ({missing}) THEN NULL ELSE {text} END" if missing else text
        )
        columns.append(f"{raw} AS {ident('t_' + col.name)}")
        fmt = getattr(col, "format", None)
        columns.append(f"{_typed(raw, col.type, fmt)} AS {ident(col.name)}")
    sql = f"SELECT _row_number, {', '.join(columns)} FROM {text_view}"  # noqa: S608 - identifiers checked by ident()
    if derived:
        extra = ", ".join(f"{expr} AS {ident(name)}" for name, expr in derived.items())
        sql = f"SELECT *, {extra} FROM ({sql})"  # noqa: S608 - SQL written in the tests
    con.execute(f"CREATE OR REPLACE TEMP VIEW {ident(view)} AS {sql}")


def _bound(kind: str, value: float | str, today: date) -> str:
    if kind in ("date", "datetime"):
        day = today if value == "today" else date.fromisoformat(str(value))
        return f"{kind.upper() if kind == 'date' else 'TIMESTAMP'} '{day.isoformat()}'"
    return repr(float(value))


def fk_rule_name(fk: ForeignKeySpec) -> str:
    return f"fk:{', '.join(fk.columns)}->{fk.references}"


def present_predicate(fk: ForeignKeySpec) -> str:
    """True where a row references a parent: every column of the foreign key is present."""
    return " AND ".join(f"{ident(c)} IS NOT NULL" for c in fk.columns)


def orphan_predicate(fk: ForeignKeySpec, parent_view: str) -> str:
    """True where a row (aliased ``s``) references a parent row that ``parent_view`` lacks."""
    match = " AND ".join(
        f"p.{ident(r)} = s.{ident(c)}" for c, r in zip(fk.columns, fk.ref_columns, strict=True)
    )
    parent = ident(parent_view)
    exists = f"SELECT 1 FROM {parent} p WHERE {match}"  # noqa: S608 - identifiers checked by ident()
    return f"({present_predicate(fk)} AND NOT EXISTS ({exists}))"


def rule_predicates(
    spec: DatasetSpec,
    parents: Mapping[str, str],
    expressions: Mapping[str, str],
    today: date,
) -> dict[str, str]:
    """Rule name -> SQL that is true where a row of the source view breaks it.

    ``parents``: the source view of each referenced dataset; ``expressions``: the failure SQL
    of each expression rule (the pipeline's grammar is not SQL, so the test states them).
    Uniqueness is left to ``repeated_rows`` (it depends on the file order).
    """
    out: dict[str, str] = {}
    for col in spec.columns:
        c, t = ident(col.name), ident("t_" + col.name)
        # A derived column has no text to fail to type.
        derived = col.expression is not None
        type_failed = "false" if derived else f"({t} IS NOT NULL AND {c} IS NULL)"
        if col.type != "string" and not derived:
            out[f"type:{col.name}"] = type_failed
        if col.required:
            out[f"required:{col.name}"] = f"({c} IS NULL AND NOT {type_failed})"
        if col.min is not None or col.max is not None:
            parts = []
            if col.min is not None:
                parts.append(f"{c} < {_bound(col.type, col.min, today)}")
            if col.max is not None:
                parts.append(f"{c} > {_bound(col.type, col.max, today)}")
            out[f"range:{col.name}"] = f"coalesce({' OR '.join(parts)}, false)"
        if col.allowed is not None:
            values = ", ".join(
                "'" + str(v).replace("'", "''") + "'" if col.type == "string" else repr(v)
                for v in col.allowed
            )
            out[f"allowed:{col.name}"] = f"coalesce({c} NOT IN ({values}), false)"
        if col.pattern is not None:
            regex = NAMED_PATTERNS.get(col.pattern, col.pattern).replace("'", "''")
            out[f"pattern:{col.name}"] = f"coalesce(NOT regexp_matches({c}, '{regex}'), false)"
    for fk in spec.foreign_keys:
        out[fk_rule_name(fk)] = orphan_predicate(fk, parents[fk.references])
    for rule in spec.rules:
        if isinstance(rule, CompareRule):
            op = "=" if rule.op == "==" else rule.op
            right = ident(rule.right) + (f" * {rule.factor!r}" if rule.factor != 1.0 else "")
            out[f"rule:{rule.name}"] = f"coalesce(NOT ({ident(rule.left)} {op} {right}), false)"
        else:
            out[f"rule:{rule.name}"] = f"coalesce(({expressions[rule.name]}), false)"
    return out


def repeated_rows(con: duckdb.DuckDBPyConnection, view: str, spec: DatasetSpec) -> dict[int, str]:
    """Row number -> ``unique:<cols>`` for every row whose key (or unique column) repeats an
    earlier row's, nulls never repeating; this corpus has no exact duplicate rows."""
    groups = [g for g in [spec.key, *spec.unique_keys] if g]
    groups += [[c.name] for c in spec.columns if c.unique and [c.name] not in groups]
    out: dict[int, str] = {}
    for group in groups:
        cols = ", ".join(ident(c) for c in group)
        present = " AND ".join(f"{ident(c)} IS NOT NULL" for c in group)
        rows = con.execute(
            f"SELECT _row_number FROM (SELECT _row_number, {present} AS present, "  # noqa: S608 - identifiers checked by ident()
            f"row_number() OVER (PARTITION BY {cols} ORDER BY _row_number) AS nth "
            f"FROM {ident(view)}) WHERE present AND nth > 1"
        ).fetchall()
        for (row,) in rows:
            out[row] = f"unique:{', '.join(group)}"
    return out


def reference_check_name(spec: DatasetSpec, fk: ForeignKeySpec) -> str:
    """``<dataset>_reference_<name>``, else ``<dataset>_reference_<parent>`` (plus
    ``_by_<columns>`` where two foreign keys reference one parent)."""
    if fk.name:
        return f"{spec.name}_reference_{fk.name}"
    name = f"{spec.name}_reference_{fk.references}"
    if sum(other.references == fk.references for other in spec.foreign_keys) > 1:
        name += "_by_" + "_".join(fk.columns)
    return name


def warning_rules(spec: DatasetSpec) -> set[str]:
    """The rule names of the foreign keys and row rules whose severity is ``warn``: the rows
    that break them stay valid."""
    return {fk_rule_name(fk) for fk in spec.foreign_keys if fk.severity == "warn"} | {
        f"rule:{r.name}" for r in spec.rules if r.severity == "warn"
    }


def expected_quarantine(
    con: duckdb.DuckDBPyConnection, view: str, spec: DatasetSpec, predicates: Mapping[str, str]
) -> dict[int, list[str]]:
    """Row number -> the names of the rules it breaks, in the pipeline's order (column rules
    in column order, then uniqueness, foreign keys and row rules), for each row that breaks a
    rule of severity error."""
    warn = warning_rules(spec)
    names = [n for n in predicates if n not in warn]
    flags = "".join(f", ({predicates[n]}) AS r{i}" for i, n in enumerate(names))
    rows = con.execute(f"SELECT _row_number{flags} FROM {ident(view)} s").fetchall()  # noqa: S608 - identifiers checked by ident()
    repeats = repeated_rows(con, view, spec)
    column_kinds = ("type:", "required:", "range:", "allowed:", "pattern:")
    out: dict[int, list[str]] = {}
    for row, *hits in rows:
        broken = [n for n, hit in zip(names, hits, strict=True) if hit]
        ordered = [n for n in broken if n.startswith(column_kinds)]
        if row in repeats:
            ordered.append(repeats[row])
        ordered += [n for n in broken if not n.startswith(column_kinds)]
        if ordered:
            out[row] = ordered
    return out
