"""The orders spec in pandera on Polars: read, validate, split, write, as a user writes it.

    python pandera_polars.py LANDING OUT_DIR --today YYYY-MM-DD

Runs in the benchmark's throwaway environment (pandera, Polars; no project import). Polars does
what pandera cannot: the casts (with the text of values that did not cast kept, for the type
rules), exact-duplicate removal and the list-price join. pandera checks every rule with
``lazy=True``; the failure cases' row indexes split the rows. Prints the counts as one JSON line.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path

import pandera.polars as pa
import polars as pl

NULL_TOKENS = ["", "NA", "N/A", "NaN", "null", "NULL", "None"]
DATA = [
    "order_id",
    "customer_id",
    "product_id",
    "quantity",
    "unit_price",
    "discount",
    "order_ts",
    "channel",
    "status",
]
CAST = {
    "quantity": pl.Int64,
    "unit_price": pl.Float64,
    "discount": pl.Float64,
    "order_ts": pl.Datetime("us"),
}


def _present(c: str) -> pl.Expr:
    t = pl.col(c).str.strip_chars()
    return pl.when(~t.is_in(NULL_TOKENS)).then(t)


def _typed(c: str) -> pl.Expr:
    if c == "order_ts":
        return _present(c).str.to_datetime("%Y-%m-%dT%H:%M:%S", strict=False, time_unit="us")
    if c == "quantity":
        as_float = _present(c).cast(pl.Float64, strict=False)
        whole = pl.when(as_float == as_float.round(0)).then(as_float.cast(pl.Int64, strict=False))
        return pl.coalesce(_present(c).cast(pl.Int64, strict=False), whole)
    if c in CAST:
        return _present(c).cast(CAST[c], strict=False)
    return pl.when(~pl.col(c).str.strip_chars().is_in(NULL_TOKENS)).then(pl.col(c))


def _read(folder: Path) -> pl.DataFrame:
    files = sorted(folder.glob("*.csv"))
    return pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="diagonal")


def _type_check(c: str) -> pa.Check:
    def holds(data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(f"_text_{c}").is_null() | pl.col(c).is_not_null())

    return pa.Check(holds, name=f"type:{c}")


def _price_check(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(
        (pl.col("unit_price") <= pl.col("_list_price") * 1.5).fill_null(True)
    )


def schema(customers: pl.Series, products: pl.Series, today: date) -> pa.DataFrameSchema:
    midnight = datetime(today.year, today.month, today.day)
    return pa.DataFrameSchema(
        {
            "order_id": pa.Column(pl.String, nullable=False, unique=True),
            "customer_id": pa.Column(pl.String, pa.Check.isin(customers), nullable=False),
            "product_id": pa.Column(pl.String, pa.Check.isin(products), nullable=False),
            "quantity": pa.Column(pl.Int64, pa.Check.in_range(1, 10_000), nullable=False),
            "unit_price": pa.Column(pl.Float64, pa.Check.ge(0), nullable=False),
            "discount": pa.Column(pl.Float64, pa.Check.in_range(0, 0.9), nullable=True),
            "order_ts": pa.Column(
                pl.Datetime("us"),
                pa.Check.in_range(datetime(2000, 1, 1), midnight),
                nullable=False,
            ),
            "channel": pa.Column(
                pl.String, pa.Check.isin(["web", "mobile", "store", "partner"]), nullable=False
            ),
            "status": pa.Column(
                pl.String, pa.Check.isin(["completed", "returned", "cancelled"]), nullable=False
            ),
        },
        checks=[
            *[_type_check(c) for c in CAST],
            pa.Check(_price_check, name="rule:unit_price_within_list_price"),
        ],
    )


def rule_name(column: str | None, check: str) -> str:
    """A failure case as the pipeline names the rule."""
    if check.startswith(("type:", "rule:")):
        return check
    if check == "not_nullable":
        return f"required:{column}"
    if check == "field_uniqueness":
        return f"unique:{column}"
    if check.startswith("isin") and column in ("customer_id", "product_id"):
        return f"fk:{column}->{column.removesuffix('_id')}s"
    if check.startswith("isin"):
        return f"allowed:{column}"
    return f"range:{column}"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("landing", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--today", type=date.fromisoformat, required=True)
    args = p.parse_args()
    raw = _read(args.landing / "orders")
    rows_in = raw.height
    typed = raw.select(
        *[_typed(c).alias(c) for c in DATA],
        *[_present(c).alias(f"_text_{c}") for c in CAST],
    )
    # pandera has no notion of an exact duplicate to drop: Polars drops them first.
    kept = typed.unique(subset=DATA, keep="first", maintain_order=True)
    customers = _read(args.landing / "customers").select(_typed("customer_id")).to_series()
    products = _read(args.landing / "products").select(
        _typed("product_id"), _typed("list_price").cast(pl.Float64, strict=False)
    )
    trusted = (
        products.drop_nulls()
        .filter(pl.col("list_price") >= 0.01)
        .unique("product_id", keep="first", maintain_order=True)
        .rename({"list_price": "_list_price"})
    )
    frame = kept.join(trusted, on="product_id", how="left", maintain_order="left")
    product_ids = products.get_column("product_id").drop_nulls().unique()
    try:
        schema(customers.drop_nulls().unique(), product_ids, args.today).validate(frame, lazy=True)
        cases = pl.DataFrame(schema={"index": pl.Int32, "rule": pl.String})
    except pa.errors.SchemaErrors as err:
        fc = err.failure_cases.filter(pl.col("index").is_not_null())
        names = [rule_name(c, k) for c, k in zip(fc["column"], fc["check"], strict=True)]
        cases = fc.select("index").with_columns(pl.Series("rule", names)).unique()
    by_row = cases.group_by("index").agg(pl.col("rule").sort().alias("_rules"))
    indexed = frame.select(DATA).with_row_index("index").cast({"index": pl.Int32})
    quarantined = indexed.join(by_row, on="index", how="inner").sort("index").drop("index")
    valid = indexed.join(by_row, on="index", how="anti").sort("index").drop("index")
    args.out.mkdir(parents=True, exist_ok=True)
    valid.write_parquet(args.out / "valid.parquet", compression="zstd")
    quarantined.write_parquet(args.out / "quarantined.parquet", compression="zstd")
    per_rule = cases.group_by("rule").len().sort("rule")
    json.dump(
        {
            "rows_in": rows_in,
            "valid_rows": valid.height,
            "quarantined_rows": quarantined.height,
            "exact_duplicates": rows_in - frame.height,
            "rule_failures": dict(per_rule.iter_rows()),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
