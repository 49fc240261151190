"""The peers benchmark's hand-written SQL split, held to the pipeline's own split.

DuckDB from the project's venv; no throwaway environment is built here.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import dagster as dg
import duckdb
import polars as pl
import pytest

from assets.core.spec import load_catalog
from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.defects import DEFECT_KINDS
from assets.validation.rules import column_rules, cross_rules, unique_groups
from benchmarks.peers.run import SELECTION
from benchmarks.peers.sql_split import rule_conditions, run_split
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings


def test_the_sql_names_every_rule_the_pipeline_compiles_for_orders():
    spec = load_catalog()["orders"]
    today = datetime.now(UTC).date()
    theirs = {r.name for r in column_rules(spec, today)}
    theirs |= {f"unique:{', '.join(group)}" for group, _ in unique_groups(spec)}
    parents = {"customers": pl.LazyFrame(), "products": pl.LazyFrame()}
    theirs |= {r.name for r in cross_rules(spec, parents, parents)}
    assert {name for name, _ in rule_conditions(today)} == theirs


@pytest.fixture(scope="module")
def split(tmp_path_factory):
    """A small generated landing folder, split by the pipeline (through Dagster) and the SQL."""
    root = tmp_path_factory.mktemp("peers")
    # The benchmark's rates: more defects would fail a blocking gate and hold the table back.
    rates: dict[str, float] = dict.fromkeys(set(DEFECT_KINDS) - {"duplicate_key"}, 0.002)
    generate_dataset(
        root / "landing",
        GeneratorConfig(customers=500, orders=5_000, fmt="csv", defect_rates=rates, seed=7),
    )
    defs = build_definitions(Settings.from_env({"PIPELINE_DATA_DIR": str(root)}))
    keys = [dg.AssetKey(k) for k in SELECTION.split(",")]
    job = defs.resolve_implicit_global_asset_job_def()
    with dg.DagsterInstance.ephemeral() as instance:
        assert job.execute_in_process(instance=instance, asset_selection=keys).success
    today = datetime.now(UTC).date()
    with duckdb.connect() as con:
        counts = run_split(con, root / "landing", root / "sql", today)
    return root, counts


def test_the_sql_split_agrees_with_the_pipelines_row_by_row(split):
    root, counts = split
    validation = root / "lake" / "validation"
    valid = pl.read_parquet(validation / "validated_orders" / "_versions" / "*" / "*.parquet")
    quarantined = pl.read_parquet(validation / "quarantined_orders" / "*.parquet")
    assert quarantined.height > 0  # the generated defects reached the quarantine
    assert counts["valid_rows"] == valid.height
    assert counts["quarantined_rows"] == quarantined.height
    failures = quarantined.get_column("_rules").explode().value_counts()
    assert counts["rule_failures"] == dict(failures.iter_rows())
    assert counts["exact_duplicates"] > 0

    def rows(frame: pl.DataFrame) -> Counter:
        pairs = frame.select("order_id", "_rules").iter_rows()
        return Counter((key, tuple(sorted(rules))) for key, rules in pairs)

    assert rows(pl.read_parquet(root / "sql" / "quarantined.parquet")) == rows(quarantined)
    sql_valid = pl.read_parquet(root / "sql" / "valid.parquet").get_column("order_id")
    assert sorted(sql_valid) == sorted(valid.get_column("order_id"))
