"""The hashed search for exact duplicates and repeated keys against comparing values."""

import tempfile
from pathlib import Path

import polars as pl
import pytest

from assets.validation.repeats import ROW_ID, duplicates_and_repeats, repeat_ids


def test_repeat_ids_are_the_later_rows_of_equal_values_in_row_order():
    # Many repeats, nulls and two columns: the hashed search must give exactly what comparing
    # the values row by row gives (the first occurrence is never a repeat).
    n = 5_000
    lf = pl.LazyFrame(
        {
            "a": [None if i % 97 == 0 else i % 300 for i in range(n)],
            "b": [f"x{(i * 7) % 11}" for i in range(n)],
        }
    ).with_row_index(ROW_ID)
    full = lf.collect()
    expected = full.filter(~pl.struct("a", "b").is_first_distinct())[ROW_ID]
    got = repeat_ids(lf, ["a", "b"])
    assert got.to_list() == expected.to_list()
    assert 0 < got.len() < n
    # Searched in hash buckets through a scratch folder (as the asset does): the same rows.
    with tempfile.TemporaryDirectory() as tmp:
        bucketed = repeat_ids(lf, ["a", "b"], scratch_dir=Path(tmp), bucket_rows=700)
        assert not list(Path(tmp).iterdir())  # the hash file is removed
    assert bucketed.to_list() == expected.to_list()

    # present_only: a row with a null is never a repeat; skip: those rows are left out.
    present = full.filter(pl.col("a").is_not_null())
    expected = present.filter(~pl.col("a").is_first_distinct())[ROW_ID]
    assert repeat_ids(lf, ["a"], present_only=True).to_list() == expected.to_list()
    skip = pl.Series(ROW_ID, [1, 2], dtype=full.schema[ROW_ID])  # a=1 and a=2 first seen here
    kept = present.filter(~pl.col(ROW_ID).is_in([1, 2]))
    expected = kept.filter(~pl.col("a").is_first_distinct())[ROW_ID]
    assert repeat_ids(lf, ["a"], skip=skip, present_only=True).to_list() == expected.to_list()


@pytest.mark.parametrize("null_keys", [True, False], ids=["null-keys", "no-null-key"])
@pytest.mark.parametrize("max_candidates", [1_000_000, 10], ids=["one-search", "fallback"])
def test_one_key_search_finds_what_separate_searches_find(max_candidates, null_keys):
    # Exact duplicates (with and without a key), repeated keys, a second unique column and
    # null keys: the single search of the key's hash must give the same rows as searching the
    # whole rows and each group on their own (and so must its fallback for keys that repeat
    # too often to compare at once). Without null keys, the whole-row hashes are skipped.
    n = 4_000
    lf = pl.LazyFrame(
        {
            "id": [None if null_keys and i % 500 == 0 else f"k{i % 1_000}" for i in range(n)],
            "email": [None if i % 7 == 0 else f"e{i % 1_000}" for i in range(n)],
            "v": [(i // 1_000) % 2 for i in range(n)],
        }
    ).with_row_index(ROW_ID)
    payload, groups = ["id", "email", "v"], [["id"], ["email"]]
    duplicates = repeat_ids(lf, payload)
    expected = [repeat_ids(lf, g, skip=duplicates, present_only=True) for g in groups]
    assert duplicates.len() > 0 and all(e.len() > 0 for e in expected)
    dup_keys = lf.collect().filter(pl.col(ROW_ID).is_in(duplicates.implode()))["id"]
    if null_keys:  # exact duplicates with and without a key
        assert 0 < dup_keys.null_count() < dup_keys.len()
    with tempfile.TemporaryDirectory() as tmp:
        got, repeats = duplicates_and_repeats(
            lf,
            payload,
            groups,
            scratch_dir=Path(tmp),
            bucket_rows=900,
            max_candidates=max_candidates,
        )
    assert got.to_list() == duplicates.to_list()
    assert [r.to_list() for r in repeats] == [e.to_list() for e in expected]
    # Without any unique group, only exact duplicates are searched.
    alone, none = duplicates_and_repeats(lf, payload, [])
    assert alone.to_list() == duplicates.to_list() and none == []
