"""Every transformation kind against the same computation written by hand in Polars."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets.core.spec import SpecError, load_catalog
from assets.pipelines.checks import evaluate_checks
from assets.pipelines.spec import PipelineSpec
from assets.pipelines.transform import compile_pipeline, run_steps

ORDERS = pl.DataFrame(
    {
        "order_id": ["o1", "o2", "o3", "o4", "o5", "o6"],
        "customer_id": ["c1", "c2", "c1", "c3", "c2", "c1"],
        "product_id": ["p1", "p1", "p2", "p2", "p1", "p2"],
        "quantity": [1, 3, 2, 5, 1, 4],
        "unit_price": [10.0, 10.0, 20.0, 18.0, 9.0, 21.0],
        "discount": [None, 0.1, 0.0, 0.2, None, 0.05],
        "order_ts": [
            datetime(2024, m, d) for m, d in [(1, 3), (1, 9), (2, 1), (2, 7), (3, 2), (3, 30)]
        ],
        "channel": ["web", "store", "web", "mobile", "web", "store"],
        "status": ["completed", "completed", "returned", "completed", "completed", "completed"],
    }
)
CUSTOMERS = pl.DataFrame(
    {
        "customer_id": ["c1", "c2", "c3"],
        "region": ["EU", "NA", "EU"],
        "plan_type": ["pro", "free", "basic"],
    }
)
TABLES = {"orders": ORDERS, "customers": CUSTOMERS}


def scan(name: str) -> pl.LazyFrame:
    return TABLES[name].lazy()


def run(*steps: dict) -> pl.DataFrame:
    spec = PipelineSpec.model_validate({"name": "p", "source": "orders", "steps": list(steps)})
    return run_steps(spec, scan).collect()


REVENUE = pl.col("quantity") * pl.col("unit_price") * (1 - pl.col("discount").fill_null(0))


def test_filter():
    got = run({"filter": "status == 'completed' and quantity >= 2"})
    want = ORDERS.filter((pl.col("status") == "completed") & (pl.col("quantity") >= 2))
    assert_frame_equal(got, want)


def test_select_and_rename():
    got = run({"select": ["order_id", "quantity"]}, {"rename": {"quantity": "units"}})
    assert_frame_equal(got, ORDERS.select("order_id", pl.col("quantity").alias("units")))


def test_derive_chains_and_uses_functions():
    got = run(
        {
            "derive": {
                "revenue": "quantity * unit_price * (1 - coalesce(discount, 0))",
                "big": "revenue > 50",
                "month": "month_start(order_ts)",
            }
        }
    )
    want = ORDERS.with_columns(REVENUE.alias("revenue")).with_columns(
        (pl.col("revenue") > 50).alias("big"),
        pl.col("order_ts").dt.truncate("1mo").dt.date().alias("month"),
    )
    assert_frame_equal(got, want)


def test_join_brings_only_the_chosen_columns():
    got = run({"join": {"dataset": "customers", "on": ["customer_id"], "columns": ["region"]}})
    want = ORDERS.join(CUSTOMERS.select("customer_id", "region"), on="customer_id", how="left")
    assert_frame_equal(got, want, check_row_order=False)


def test_anti_join_keeps_unmatched_rows():
    got = run(
        {"filter": "customer_id != 'c3'"},
        {"join": {"dataset": "customers", "on": ["customer_id"], "how": "anti"}},
    )
    assert got.height == 0


def test_aggregate_is_sorted_by_its_keys():
    got = run(
        {"derive": {"revenue": "quantity * unit_price * (1 - coalesce(discount, 0))"}},
        {
            "aggregate": {
                "by": ["customer_id"],
                "metrics": {
                    "revenue": {"sum": "revenue"},
                    "orders": {"count": "*"},
                    "avg_qty": {"mean": "quantity"},
                    "products": {"n_unique": "product_id"},
                },
            }
        },
    )
    want = (
        ORDERS.group_by("customer_id")
        .agg(
            REVENUE.sum().alias("revenue"),
            pl.len().alias("orders"),
            pl.col("quantity").mean().alias("avg_qty"),
            pl.col("product_id").n_unique().alias("products"),
        )
        .sort("customer_id")
    )
    assert_frame_equal(got, want)


def test_sort_with_mixed_directions():
    got = run({"sort": {"by": ["customer_id", "quantity"], "descending": [False, True]}})
    assert_frame_equal(got, ORDERS.sort(["customer_id", "quantity"], descending=[False, True]))


def test_deduplicate_keeps_the_latest_per_customer():
    got = run(
        {"deduplicate": {"subset": ["customer_id"], "keep": "last", "order_by": ["order_ts"]}}
    )
    want = ORDERS.sort("order_ts").unique(subset=["customer_id"], keep="last", maintain_order=True)
    assert_frame_equal(got, want)


def test_pivot_and_unpivot_round_trip():
    pivoted = run(
        {
            "pivot": {
                "index": ["customer_id"],
                "on": "channel",
                "values": "quantity",
                "columns": ["web", "store", "mobile"],
                "agg": "sum",
            }
        },
        {"sort": {"by": ["customer_id"]}},
    )
    want = ORDERS.pivot(
        on="channel", index="customer_id", values="quantity", aggregate_function="sum"
    ).select("customer_id", "web", "store", "mobile")
    assert_frame_equal(pivoted, want.sort("customer_id"))
    long = run(
        {"select": ["order_id", "quantity", "unit_price"]},
        {
            "derive": {
                "unit_price": "to_float(quantity) * 0 + unit_price",
                "quantity": "to_float(quantity)",
            }
        },
        {
            "unpivot": {
                "index": ["order_id"],
                "on": ["quantity", "unit_price"],
                "variable_name": "metric",
            }
        },
    )
    hand = ORDERS.select("order_id", pl.col("quantity").cast(pl.Float64), "unit_price").unpivot(
        index="order_id", on=["quantity", "unit_price"], variable_name="metric"
    )
    assert_frame_equal(long, hand, check_row_order=False)


@pytest.mark.parametrize(
    ("window", "expr"),
    [
        (
            {"fn": "sum", "column": "quantity", "partition_by": ["customer_id"]},
            pl.col("quantity").sum().over("customer_id"),
        ),
        (
            {
                "fn": "cum_sum",
                "column": "quantity",
                "partition_by": ["customer_id"],
                "order_by": "order_ts",
            },
            pl.col("quantity").cum_sum().over("customer_id", order_by="order_ts"),
        ),
        (
            {
                "fn": "mean",
                "column": "unit_price",
                "partition_by": ["product_id"],
                "order_by": "order_ts",
                "rows": 2,
            },
            pl.col("unit_price")
            .rolling_mean(2, min_samples=1)
            .over("product_id", order_by="order_ts"),
        ),
        (
            {
                "fn": "lag",
                "column": "quantity",
                "partition_by": ["customer_id"],
                "order_by": "order_ts",
            },
            pl.col("quantity").shift(1).over("customer_id", order_by="order_ts"),
        ),
        (
            {"fn": "rank", "partition_by": ["customer_id"], "order_by": "order_ts"},
            pl.col("order_ts").rank("ordinal").over("customer_id"),
        ),
    ],
)
def test_windowed_aggregates(window, expr):
    got = run({"window": {"name": "w", **window}})
    assert_frame_equal(got, ORDERS.with_columns(expr.alias("w")))


def test_sample_by_fraction_is_stable_and_by_n_is_exact():
    first = run({"sample": {"fraction": 0.5, "seed": 3}})
    assert_frame_equal(first, run({"sample": {"fraction": 0.5, "seed": 3}}))
    assert set(first["order_id"]) <= set(ORDERS["order_id"])
    exact = run({"sample": {"n": 4, "seed": 1}})
    assert exact.height == 4 and exact["order_id"].is_unique().all()
    # order is kept: the sample is a subsequence of the input
    positions = [ORDERS["order_id"].to_list().index(o) for o in exact["order_id"]]
    assert positions == sorted(positions)


def test_checks_measure_the_result():
    spec = PipelineSpec.model_validate(
        {
            "name": "p",
            "source": "orders",
            "checks": [
                {"completeness": {"columns": ["discount"], "min": 0.9}},
                {"uniqueness": {"columns": ["customer_id"]}},
                {"uniqueness": {"columns": ["order_id"]}},
                {"range": {"column": "quantity", "min": 1, "max": 4}},
                {"row_count": {"min": 1, "max": 6}},
            ],
        }
    )
    outcomes = {o.name: o for o in evaluate_checks(spec, ORDERS.lazy())}
    assert not outcomes["p_completeness_discount"].passed
    assert outcomes["p_completeness_discount"].metadata["non_null_share"][
        "discount"
    ] == pytest.approx(4 / 6)
    assert not outcomes["p_uniqueness_customer_id"].passed
    assert outcomes["p_uniqueness_order_id"].passed
    assert outcomes["p_range_quantity"].metadata["out_of_range_rows"] == 1
    assert outcomes["p_row_count"].passed


def test_compile_checks_columns_against_the_dataset_specs(tmp_path: Path):
    catalog = load_catalog([])
    good = PipelineSpec.model_validate(
        {
            "name": "by_region",
            "source": "orders",
            "steps": [
                {"join": {"dataset": "customers", "on": ["customer_id"], "columns": ["region"]}},
                {"aggregate": {"by": ["region"], "metrics": {"units": {"sum": "quantity"}}}},
            ],
        }
    )
    compiled = compile_pipeline(good, tmp_path / "p.yaml", catalog)
    assert compiled.inputs == ("orders", "customers")
    assert compiled.schema == {"region": pl.String(), "units": pl.Int64()}
    typo = good.model_copy(
        update={
            "steps": [
                good.steps[0],
                PipelineSpec.model_validate(
                    {"name": "x", "source": "orders", "steps": [{"filter": "regoin == 'EU'"}]}
                ).steps[0],
            ]
        }
    )
    with pytest.raises(SpecError) as err:
        compile_pipeline(typo, tmp_path / "p.yaml", catalog)
    assert str(err.value) == (
        f"{tmp_path / 'p.yaml'}: field 'pipeline.steps.1.filter': "
        "unknown column 'regoin' at 0; did you mean 'region'?"
    )


def test_n_unique_counts_distinct_values_as_sql_does_without_nulls():
    import duckdb

    got = run(
        {"aggregate": {"by": ["customer_id"], "metrics": {"discounts": {"n_unique": "discount"}}}}
    )
    want = (
        duckdb.sql(
            "SELECT customer_id, count(DISTINCT discount) AS discounts FROM ORDERS "
            "GROUP BY customer_id ORDER BY customer_id"
        )
        .pl()
        .with_columns(pl.col("discounts").cast(pl.UInt32))
    )
    # c1 has discounts null, 0.0 and 0.05: two distinct values, not three; c2 one, not two.
    assert got["discounts"].to_list() == [2, 1, 1]
    assert_frame_equal(got, want)
