"""The orders spec's row-level split in hand-written DuckDB SQL: what a user writes without the
pipeline, and the yardstick the pipeline's own split is checked against.

Runs with DuckDB alone (no project import), in the benchmark's throwaway environment or the
project's venv:

    python benchmarks/peers/sql_split.py LANDING OUT_DIR [--today YYYY-MM-DD]

It reads the landing CSVs of customers, products and orders as text, casts them the way the
pipeline's ingestion does (trimmed, the spec's null tokens as null, a value that does not cast
recorded as a ``type:<col>`` failure), removes exact duplicates, and writes
``valid.parquet`` and ``quarantined.parquet`` (with ``_rules``, the names of the rules each row
broke, named as the pipeline names them). It prints the counts as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

# assets/core/column_parsing.py DEFAULT_NULL_VALUES: texts that mean missing.
NULL_TOKENS = ("", "NA", "N/A", "NaN", "null", "NULL", "None")
ORDER_COLUMNS = (
    "order_id",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "discount",
    "order_ts",
    "channel",
    "status",
)


def _quoted(values: tuple[str, ...] | list[str]) -> str:
    return ", ".join("'" + v.replace("'", "''") + "'" for v in values)


def _text(col: str) -> str:
    """A string column as ingestion keeps it: the text itself, null for a null token."""
    return f"CASE WHEN trim({col}) IN ({_quoted(NULL_TOKENS)}) THEN NULL ELSE {col} END"


def _present(col: str) -> str:
    """The trimmed text of a value that is not a null token (null otherwise)."""
    return f"CASE WHEN trim({col}) IN ({_quoted(NULL_TOKENS)}) THEN NULL ELSE trim({col}) END"


def _integer(col: str) -> str:
    """An integer as ingestion reads it: digits, or a float with no fraction."""
    p = _present(col)
    return (
        f"coalesce(TRY_CAST({p} AS BIGINT), "
        f"CASE WHEN TRY_CAST({p} AS DOUBLE) = round(TRY_CAST({p} AS DOUBLE)) "
        f"THEN TRY_CAST(TRY_CAST({p} AS DOUBLE) AS BIGINT) END)"
    )


def _datetime(col: str) -> str:
    return f"TRY_CAST(replace({_present(col)}, ' ', 'T') AS TIMESTAMP)"


TYPED = {
    "order_id": _text("order_id"),
    "customer_id": _text("customer_id"),
    "product_id": _text("product_id"),
    "quantity": _integer("quantity"),
    "unit_price": f"TRY_CAST({_present('unit_price')} AS DOUBLE)",
    "discount": f"TRY_CAST({_present('discount')} AS DOUBLE)",
    "order_ts": _datetime("order_ts"),
    "channel": _text("channel"),
    "status": _text("status"),
}
CAST = ("quantity", "unit_price", "discount", "order_ts")
# Where a present value did not cast: ingestion keeps its text, validation names it type:<col>.
TYPE_FAILED = {c: f"({_present(c)} IS NOT NULL AND {TYPED[c]} IS NULL)" for c in CAST}
REQUIRED = ("order_id", "customer_id", "product_id", "quantity", "unit_price", "order_ts")
REQUIRED += ("channel", "status")


def _scan(paths: list[str]) -> str:
    quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
    return f"read_csv([{quoted}], all_varchar = true, header = true)"


def staging_sql(files: dict[str, list[str]]) -> str:
    """The CTEs every contender on DuckDB starts from: ``kept`` (orders typed, ``_tf_<col>``
    where a value did not cast, exact duplicates removed, ``_key_seen`` the occurrence of its
    key), ``customers``, ``products_raw`` and ``list_prices`` (the ones the price rule trusts)."""
    columns = ", ".join(f"{expr} AS {c}" for c, expr in TYPED.items())
    failed = ", ".join(f"{expr} AS _tf_{c}" for c, expr in TYPE_FAILED.items())
    data = ", ".join(ORDER_COLUMNS)
    # The spec's columns and rules, written here, and our own file paths, quoted.
    return f"""
WITH src AS (
    SELECT {columns}, {failed}, row_number() OVER () AS _row_id FROM {_scan(files["orders"])}
),
deduped AS (  -- exact duplicates (every typed column equal to an earlier row) are removed
    SELECT *, row_number() OVER (PARTITION BY {data} ORDER BY _row_id) AS _copy FROM src
),
kept AS (
    SELECT * EXCLUDE (_copy), CASE WHEN order_id IS NOT NULL
        THEN row_number() OVER (PARTITION BY order_id ORDER BY _row_id) END AS _key_seen
    FROM deduped WHERE _copy = 1
),
customers AS (
    SELECT DISTINCT {_text("customer_id")} AS customer_id FROM {_scan(files["customers"])}
),
products_raw AS (
    SELECT {_text("product_id")} AS product_id,
        TRY_CAST({_present("list_price")} AS DOUBLE) AS list_price,
        row_number() OVER () AS _row_id
    FROM {_scan(files["products"])}
),
-- The price rule compares with list prices that pass their own rules (type, required,
-- minimum 0.01), the first row of each product.
list_prices AS (
    SELECT product_id, arg_min(list_price, _row_id) AS list_price FROM products_raw
    WHERE product_id IS NOT NULL AND list_price IS NOT NULL AND list_price >= 0.01
    GROUP BY product_id
)
"""  # noqa: S608


def _required(c: str) -> str:
    failed = f"t.{c} IS NULL"
    return f"{failed} AND NOT t._tf_{c}" if c in TYPE_FAILED else failed


def rule_conditions(today: date) -> list[tuple[str, str]]:
    """(rule name as the pipeline names it, where a row of ``kept t`` breaks it)."""
    # The spec's datetime bound ``today`` is today's midnight, as the pipeline compares it.
    midnight = f"TIMESTAMP '{today.isoformat()} 00:00:00'"
    return [
        *[(f"type:{c}", f"t._tf_{c}") for c in CAST],
        *[(f"required:{c}", _required(c)) for c in REQUIRED],
        ("range:quantity", "t.quantity < 1 OR t.quantity > 10000"),
        ("range:unit_price", "t.unit_price < 0"),
        ("range:discount", "t.discount < 0 OR t.discount > 0.9"),
        ("range:order_ts", f"t.order_ts < TIMESTAMP '2000-01-01' OR t.order_ts > {midnight}"),
        ("allowed:channel", "t.channel NOT IN ('web', 'mobile', 'store', 'partner')"),
        ("allowed:status", "t.status NOT IN ('completed', 'returned', 'cancelled')"),
        ("unique:order_id", "t._key_seen > 1"),
        ("fk:customer_id->customers", "t.customer_id IS NOT NULL AND c.customer_id IS NULL"),
        ("fk:product_id->products", "t.product_id IS NOT NULL AND p.product_id IS NULL"),
        ("rule:unit_price_within_list_price", "t.unit_price > lp.list_price * 1.5"),
    ]


def split_sql(files: dict[str, list[str]], today: date) -> str:
    """The query behind the ``flagged`` table: every orders row that is not an exact duplicate,
    typed, with ``_rules`` (the rules it broke, sorted; empty when valid)."""
    # A comparison with a null is null: coalesce makes it "not broken", as the pipeline does.
    # list_distinct drops the nulls (the rules a row keeps); no lambda, so DuckDB 1.x reads it.
    rules = ", ".join(
        f"CASE WHEN coalesce({cond}, false) THEN '{name}' END"
        for name, cond in rule_conditions(today)
    )
    return f"""{staging_sql(files)}
SELECT {", ".join(f"t.{c}" for c in ORDER_COLUMNS)}, t._row_id,
    list_sort(list_distinct([{rules}])) AS _rules
FROM kept t
LEFT JOIN customers c ON c.customer_id = t.customer_id
LEFT JOIN (SELECT DISTINCT product_id FROM products_raw WHERE product_id IS NOT NULL) p
    ON p.product_id = t.product_id
LEFT JOIN list_prices lp ON lp.product_id = t.product_id
"""  # noqa: S608


def landing_files(landing: Path) -> dict[str, list[str]]:
    return {
        e: [str(p) for p in sorted((landing / e).glob("*.csv"))]
        for e in ("customers", "products", "orders")
    }


def run_split(con: Any, landing: Path, out: Path, today: date) -> dict[str, Any]:
    """Write ``valid.parquet`` and ``quarantined.parquet`` under ``out``; return the counts."""
    out.mkdir(parents=True, exist_ok=True)
    files = landing_files(landing)
    rows_in = con.execute(f"SELECT count(*) FROM {_scan(files['orders'])}").fetchone()[0]  # noqa: S608
    con.execute(f"CREATE OR REPLACE TEMP TABLE flagged AS {split_sql(files, today)}")
    valid, quarantined = out / "valid.parquet", out / "quarantined.parquet"
    data = ", ".join(ORDER_COLUMNS)
    con.execute(
        f"COPY (SELECT {data} FROM flagged WHERE len(_rules) = 0 ORDER BY _row_id) "  # noqa: S608
        f"TO '{valid}' (FORMAT parquet, COMPRESSION zstd)"
    )
    con.execute(
        f"COPY (SELECT {data}, _rules FROM flagged WHERE len(_rules) > 0 ORDER BY _row_id) "  # noqa: S608
        f"TO '{quarantined}' (FORMAT parquet, COMPRESSION zstd)"
    )
    counts = con.execute(
        "SELECT count(*) FILTER (WHERE len(_rules) = 0), count(*) FILTER (WHERE len(_rules) > 0),"
        " count(*) FROM flagged"
    ).fetchone()
    by_rule = con.execute(
        "SELECT r, count(*) FROM (SELECT unnest(_rules) AS r FROM flagged) GROUP BY r ORDER BY r"
    ).fetchall()
    return {
        "rows_in": rows_in,
        "valid_rows": counts[0],
        "quarantined_rows": counts[1],
        "exact_duplicates": rows_in - counts[2],
        "rule_failures": dict(by_rule),
    }


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("landing", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--today", type=date.fromisoformat, default=datetime.now(UTC).date())
    args = p.parse_args(argv)
    import duckdb

    with duckdb.connect() as con:
        counts = run_split(con, args.landing, args.out, args.today)
    json.dump(counts, sys.stdout)
    print()


if __name__ == "__main__":
    main()
