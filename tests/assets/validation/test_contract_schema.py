"""The pandera contract check reads the data, not only the schema, in bounded batches."""

from datetime import date

import polars as pl

from assets.core.spec import load_catalog
from assets.validation.contract_schema import contract_failures

TODAY = date(2026, 11, 30)


def _products(n: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "product_id": [f"P{i:05d}" for i in range(n)],
            "sku": [f"ABC-{i:06d}" for i in range(n)],
            "name": ["lamp"] * n,
            "category": ["home"] * n,
            "brand": ["acme"] * n,
            "list_price": [10.0] * n,
            "unit_cost": [4.0] * n,
        }
    )


def test_a_conforming_table_has_no_failures():
    spec = load_catalog()["products"]
    assert contract_failures(_products(50).lazy(), spec, TODAY, batch_rows=7).height == 0


def test_data_failures_of_a_lazy_table_are_found_with_their_row_in_the_whole_table():
    """Pandera checks only the schema of a LazyFrame unless told otherwise: the bug this guards."""
    spec = load_catalog()["products"]
    frame = _products(50).with_columns(
        pl.when(pl.int_range(50) == 31)
        .then(-5.0)
        .otherwise(pl.col("list_price"))
        .alias("list_price"),
        pl.when(pl.int_range(50) == 12)
        .then(pl.lit("toys?"))
        .otherwise(pl.col("category"))
        .alias("category"),
    )
    failures = contract_failures(frame.lazy(), spec, TODAY, batch_rows=7)
    got = {(r["column"], r["failure_case"], r["index"]) for r in failures.iter_rows(named=True)}
    assert got == {("list_price", "-5.0", 31), ("category", "toys?", 12)}


def test_a_key_repeated_in_another_batch_is_found():
    spec = load_catalog()["products"]
    frame = _products(50).with_columns(
        pl.when(pl.int_range(50) == 45)
        .then(pl.lit("P00003"))
        .otherwise(pl.col("product_id"))
        .alias("product_id")
    )
    failures = contract_failures(frame.lazy(), spec, TODAY, batch_rows=7)
    assert failures["column"].to_list() == ["product_id", "product_id"]
    assert sorted(failures["index"].to_list()) == [3, 45]
    assert set(failures["check"].to_list()) == {"field_uniqueness"}


def test_a_repeated_key_is_found_when_the_hashes_are_searched_in_buckets(tmp_path):
    """With a scratch folder the repeat search holds one bucket of hashes at a time (counting
    50M hashes at once held ~4 GB); repeats still meet in their bucket."""
    spec = load_catalog()["products"]
    frame = _products(500).with_columns(
        pl.when(pl.int_range(500).is_in([45, 300]))
        .then(pl.lit("P00003"))
        .when(pl.int_range(500) == 410)
        .then(pl.lit("P00200"))
        .otherwise(pl.col("product_id"))
        .alias("product_id")
    )
    failures = contract_failures(
        frame.lazy(), spec, TODAY, batch_rows=70, scratch_dir=tmp_path, bucket_rows=60
    )
    assert sorted(failures["index"].to_list()) == [3, 45, 200, 300, 410]
    assert list(tmp_path.iterdir()) == []  # the hashes' scratch file is removed


def test_only_the_contract_columns_are_read_and_a_missing_one_is_reported():
    # Lineage and marker columns are not the contract's: they are not read. A contract column
    # that is missing is still reported (the check selects the columns it knows).
    spec = load_catalog()["products"]
    frame = _products(20).drop("brand").with_columns(pl.lit("f.csv").alias("_source_file"))
    failures = contract_failures(frame.lazy(), spec, TODAY, batch_rows=7)
    assert set(failures["failure_case"].to_list()) == {"brand"}
    assert set(failures["check"].to_list()) == {"column_in_dataframe"}
