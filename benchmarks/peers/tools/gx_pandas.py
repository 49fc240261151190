"""The orders spec as a Great Expectations 1.x suite on pandas: read, validate, split, write.

    python gx_pandas.py LANDING OUT_DIR --today YYYY-MM-DD

Runs in the benchmark's throwaway environment (great_expectations, pandas; no project import).
pandas does what GX cannot: the casts (keeping which values did not cast, for the type rules),
exact-duplicate removal and the list-price join. The suite runs on an ephemeral context with
``result_format`` COMPLETE, whose ``unexpected_index_list`` gives the failing rows, so the rows
split. Prints the counts as one JSON line.
"""

# pyright: reportMissingImports=false
# (great_expectations is in the benchmark's throwaway environment, not the project's venv)

from __future__ import annotations

import argparse
import json
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import great_expectations as gx
import great_expectations.expectations as gxe
import pandas as pd

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
CAST = ("quantity", "unit_price", "discount", "order_ts")
REQUIRED = ["order_id", "customer_id", "product_id", "quantity", "unit_price", "order_ts"]
REQUIRED += ["channel", "status"]


def _read(folder: Path) -> pd.DataFrame:
    files = sorted(folder.glob("*.csv"))
    frames = [pd.read_csv(f, dtype=str, keep_default_na=False) for f in files]
    return pd.concat(frames, ignore_index=True)


def _present(s: Any) -> Any:
    t = s.str.strip()
    return t.where(~t.isin(NULL_TOKENS))


def _typed(frame: pd.DataFrame) -> Any:
    out = pd.DataFrame(index=frame.index)
    for c in DATA:
        if c not in CAST:
            out[c] = frame[c].where(~frame[c].str.strip().isin(NULL_TOKENS))
    text = {c: _present(frame[c]) for c in CAST}
    number: Any = pd.to_numeric(text["quantity"], errors="coerce")
    out["quantity"] = number.where(number == number.round()).astype("Int64")
    out["unit_price"] = pd.to_numeric(text["unit_price"], errors="coerce")
    out["discount"] = pd.to_numeric(text["discount"], errors="coerce")
    out["order_ts"] = pd.to_datetime(text["order_ts"], format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    for c in CAST:
        out[f"_tf_{c}"] = text[c].notna() & out[c].isna()
    return out[DATA + [f"_tf_{c}" for c in CAST]]


def suite(customers: list[str], products: list[str], today: date) -> list[tuple[str, object]]:
    """(rule name as the pipeline names it, the expectation) for every rule."""
    midnight = datetime(today.year, today.month, today.day)
    return [
        *[
            (f"type:{c}", gxe.ExpectColumnValuesToBeInSet(column=f"_tf_{c}", value_set=[False]))
            for c in CAST
        ],
        *[(f"required:{c}", gxe.ExpectColumnValuesToNotBeNull(column=c)) for c in REQUIRED],
        (
            "range:quantity",
            gxe.ExpectColumnValuesToBeBetween(column="quantity", min_value=1, max_value=10_000),
        ),
        ("range:unit_price", gxe.ExpectColumnValuesToBeBetween(column="unit_price", min_value=0)),
        (
            "range:discount",
            gxe.ExpectColumnValuesToBeBetween(column="discount", min_value=0, max_value=0.9),
        ),
        (
            "range:order_ts",
            gxe.ExpectColumnValuesToBeBetween(
                column="order_ts", min_value=datetime(2000, 1, 1), max_value=midnight
            ),
        ),
        (
            "allowed:channel",
            gxe.ExpectColumnValuesToBeInSet(
                column="channel", value_set=["web", "mobile", "store", "partner"]
            ),
        ),
        (
            "allowed:status",
            gxe.ExpectColumnValuesToBeInSet(
                column="status", value_set=["completed", "returned", "cancelled"]
            ),
        ),
        ("unique:order_id", gxe.ExpectColumnValuesToBeUnique(column="order_id")),
        (
            "fk:customer_id->customers",
            gxe.ExpectColumnValuesToBeInSet(column="customer_id", value_set=customers),
        ),
        (
            "fk:product_id->products",
            gxe.ExpectColumnValuesToBeInSet(column="product_id", value_set=products),
        ),
        (
            "rule:unit_price_within_list_price",
            gxe.ExpectColumnPairValuesAToBeGreaterThanB(
                column_A="_price_cap",
                column_B="unit_price",
                or_equal=True,
                ignore_row_if="either_value_is_missing",
            ),
        ),
    ]


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("landing", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--today", type=date.fromisoformat, required=True)
    args = p.parse_args()
    raw = _read(args.landing / "orders")
    rows_in = len(raw)
    typed = _typed(raw)
    # GX has no notion of an exact duplicate to drop: pandas drops them first.
    kept = typed.drop_duplicates(subset=DATA, keep="first")
    customers = _read(args.landing / "customers")["customer_id"]
    customers = customers.where(~customers.str.strip().isin(NULL_TOKENS)).dropna().unique()
    products = _read(args.landing / "products")
    products = pd.DataFrame(
        {
            "product_id": products["product_id"].where(
                ~products["product_id"].str.strip().isin(NULL_TOKENS)
            ),
            "list_price": pd.to_numeric(_present(products["list_price"]), errors="coerce"),
        }
    )
    trusted = (
        products.dropna()
        .loc[lambda d: d["list_price"] >= 0.01]
        .drop_duplicates("product_id", keep="first")
    )
    frame = kept.merge(trusted, on="product_id", how="left").reset_index(drop=True)
    frame["_price_cap"] = frame["list_price"] * 1.5
    context = gx.get_context(mode="ephemeral")
    batch = (
        context.data_sources.add_pandas("pandas")
        .add_dataframe_asset("orders")
        .add_batch_definition_whole_dataframe("all")
        .get_batch(batch_parameters={"dataframe": frame})
    )
    expectations = suite(
        list(customers), list(products["product_id"].dropna().unique()), args.today
    )
    gx_suite = context.suites.add(gx.ExpectationSuite(name="orders"))
    names = {}
    for name, expectation in expectations:
        added = gx_suite.add_expectation(expectation)
        names[added.id] = name
    result = batch.validate(gx_suite, result_format={"result_format": "COMPLETE"})
    failing: dict[int, list[str]] = {}
    per_rule: dict[str, int] = {}
    for r in result.results:
        rule = names[r.expectation_config.id]
        rows = r.result.get("unexpected_index_list") or []
        if rows:
            per_rule[rule] = len(rows)
        for i in rows:
            index = i if isinstance(i, int) else next(iter(i.values()))
            failing.setdefault(int(index), []).append(rule)
    bad = frame.index.isin(list(failing))
    valid = frame.loc[~bad, DATA]
    quarantined = frame.loc[bad, DATA].assign(_rules=[sorted(failing[i]) for i in frame.index[bad]])
    args.out.mkdir(parents=True, exist_ok=True)
    valid.to_parquet(args.out / "valid.parquet", compression="zstd", index=False)
    quarantined.to_parquet(args.out / "quarantined.parquet", compression="zstd", index=False)
    json.dump(
        {
            "rows_in": rows_in,
            "valid_rows": int((~bad).sum()),
            "quarantined_rows": int(bad.sum()),
            "exact_duplicates": rows_in - len(frame),
            "rule_failures": dict(sorted(per_rule.items())),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
