"""Daily partitions in real in-process runs: ranged runs, replacing one day, unplaceable rows."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.core.storage import FULL_PART, LakeAt
from assets.generator import GeneratorConfig, generate_dataset
from assets.ingestion.partitions import PARTITION, range_tags, write_days
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from tests.runs import materialize

ORDERS = dg.AssetSelection.assets(
    "raw_customers",
    "raw_products",
    "raw_orders",
    "validated_orders",
    "quarantined_orders",
)
HEADER = "order_id,customer_id,product_id,quantity,unit_price,discount,order_ts,channel,status\n"


@pytest.fixture
def daily(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
            "PIPELINE_PARTITIONS": "daily",
        }
    )


def _run(settings: Settings, first: str, last: str) -> dg.ExecuteInProcessResult:
    return materialize(settings, ORDERS.required_multi_asset_neighbors(), range_tags(first, last))


def _day(settings: Settings, table: str, day: str) -> Path:
    """The day's part readers see (of a validated table: in its published version)."""
    group = "ingestion" if table.startswith("raw_") else "validation"
    parts = LakeAt(str(settings.data_dir / "lake")).parts(group, table)
    found = [p for p in parts if f"/date={day}/" in str(p)]
    assert len(found) <= 1
    table_dir = settings.data_dir / "lake" / group / table
    return Path(str(found[0])) if found else table_dir / f"date={day}" / FULL_PART


def _land(settings: Settings) -> dict:
    return generate_dataset(
        settings.data_dir / "landing", GeneratorConfig(customers=300, orders=6000, fmt="csv")
    )


def _landed_orders(settings: Settings) -> pl.DataFrame:
    files = sorted((settings.data_dir / "landing" / "orders").glob("*.csv"))
    return pl.concat(
        [pl.read_csv(f, infer_schema=False) for f in files], how="diagonal_relaxed"
    ).with_columns(pl.col("order_ts").str.slice(0, 10).alias("day"))


def test_write_days_replaces_only_the_listed_days(tmp_path: Path) -> None:
    table = tmp_path / "t"
    days = [date(2024, 1, 1), date(2024, 1, 2), date(2024, 1, 3)]
    frame = pl.DataFrame({"v": [1, 2, 3], PARTITION: days})
    assert write_days(frame.lazy(), table, days) == {d.isoformat(): 1 for d in days}
    untouched = (table / "date=2024-01-03" / FULL_PART).stat().st_mtime_ns
    # Day 1 gets new rows, day 2 has none left (removed), day 3 is not in the run.
    again = pl.DataFrame({"v": [10, 11], PARTITION: [days[0], days[0]]})
    assert write_days(again.lazy(), table, days[:2]) == {"2024-01-01": 2}
    assert pl.read_parquet(table / "date=2024-01-01" / FULL_PART)["v"].to_list() == [10, 11]
    assert not (table / "date=2024-01-02").exists()
    assert (table / "date=2024-01-03" / FULL_PART).stat().st_mtime_ns == untouched


def test_a_ranged_run_writes_exactly_its_days_and_every_row_is_accounted_for(daily) -> None:
    _land(daily)
    result = _run(daily, "2024-03-01", "2024-03-07")
    assert result.success
    landed = _landed_orders(daily)
    for day in ("2024-03-01", "2024-03-04", "2024-03-07"):
        expected = landed.filter(pl.col("day") == day).height
        raw = pl.read_parquet(_day(daily, "raw_orders", day))
        assert raw.height == expected > 0
        assert raw[PARTITION].unique().to_list() == [date.fromisoformat(day)]
        valid = pl.read_parquet(_day(daily, "validated_orders", day)).height
        bad_path = _day(daily, "quarantined_orders", day)
        bad = pl.read_parquet(bad_path).height if bad_path.exists() else 0
        dups = raw.select(pl.exclude("^_.*$")).is_duplicated().sum() // 2
        assert valid + bad + dups == expected
    # Nothing outside the range was written.
    raw_dir = daily.data_dir / "lake" / "ingestion" / "raw_orders"
    assert sorted(p.name for p in raw_dir.glob("date=*")) == [
        f"date=2024-03-0{i}" for i in range(1, 8)
    ]
    mats = {
        (m.asset_key.to_user_string(), m.partition)
        for m in result.get_asset_materialization_events()
    }
    assert ("validated_orders", "2024-03-04") in mats and ("raw_orders", "2024-03-08") not in mats
    # Each day's materialization shows that day's quality, and the history records each day.
    days = [f"2024-03-0{i}" for i in range(1, 8)]
    shown = {
        m.partition: m.materialization.metadata
        for m in result.get_asset_materialization_events()
        if m.asset_key.to_user_string() == "validated_orders"
    }
    for day in days:
        valid = pl.read_parquet(_day(daily, "validated_orders", day)).height
        assert shown[day]["rows_valid"].value == valid
    history = pl.read_parquet(
        daily.data_dir / "lake" / "validation" / "quality_history" / "*.parquet"
    )
    orders = history.filter(pl.col("dataset") == "orders", pl.col("metric") == "valid_rows")
    by_day = dict(
        orders.drop_nulls("partition")
        .select(pl.col("partition").cast(pl.String), "value")
        .iter_rows()
    )
    assert by_day == {day: float(shown[day]["rows_valid"].value) for day in days}
    assert orders.filter(pl.col("partition").is_null())["value"].to_list() == [sum(by_day.values())]
    gate = next(
        c for c in result.get_asset_check_evaluations() if c.check_name == "orders_keys_unique"
    )
    assert sorted(gate.metadata["by_day"].value) == days  # type: ignore[arg-type]


@pytest.mark.e2e
def test_rerunning_one_day_replaces_exactly_that_day(daily) -> None:
    _land(daily)
    assert _run(daily, "2024-03-01", "2024-03-03").success
    before = {
        (t, d): _day(daily, t, d).stat().st_mtime_ns
        for t in ("raw_orders", "validated_orders")
        for d in ("2024-03-01", "2024-03-03")
    }
    extra = daily.data_dir / "landing" / "orders" / "late-arrivals.csv"
    customer = pl.read_parquet(_day(daily, "validated_orders", "2024-03-01"))["customer_id"][0]
    product = pl.read_parquet(_day(daily, "validated_orders", "2024-03-01"))["product_id"][0]
    extra.write_text(
        HEADER
        + f"LATE-1,{customer},{product},1,10.0,0,2024-03-02T10:00:00,web,completed\n"
        + f"LATE-2,{customer},{product},1,10.0,0,2024-03-03T10:00:00,web,completed\n"
    )
    assert _run(daily, "2024-03-02", "2024-03-02").success
    day2 = pl.read_parquet(_day(daily, "validated_orders", "2024-03-02"))
    assert "LATE-1" in day2["order_id"].to_list()
    # Day 3 keeps its old file (LATE-2 waits for a run of day 3), and day 1 is untouched.
    for (table, day), stamp in before.items():
        assert _day(daily, table, day).stat().st_mtime_ns == stamp
    day3 = pl.read_parquet(_day(daily, "validated_orders", "2024-03-03"))
    assert "LATE-2" not in day3["order_id"].to_list()
    # Re-running a day with the same inputs gives the same rows.
    assert _run(daily, "2024-03-02", "2024-03-02").success
    assert pl.read_parquet(_day(daily, "validated_orders", "2024-03-02")).equals(day2)


@pytest.mark.e2e
def test_rows_that_cannot_be_placed_by_date_are_quarantined_not_lost(daily) -> None:
    _land(daily)
    assert _run(daily, "2024-03-01", "2024-03-01").success
    valid = pl.read_parquet(_day(daily, "validated_orders", "2024-03-01"))
    customer, product, taken = valid["customer_id"][0], valid["product_id"][0], valid["order_id"][0]
    odd = daily.data_dir / "landing" / "orders" / "odd.csv"
    odd.write_text(
        HEADER
        + f"ODD-1,{customer},{product},1,10.0,0,2024-03-05T09:00:00,web,completed\n"
        + f"ODD-2,{customer},{product},1,10.0,0,1999-12-31T09:00:00,web,completed\n"
        + f"ODD-3,{customer},{product},1,10.0,0,,web,completed\n"
        + f"{taken},{customer},{product},2,10.0,0,2024-03-05T11:00:00,web,completed\n"
    )
    # Four odd rows among a day's few orders fail the day's gates; the rows are still kept.
    _run(daily, "2024-03-05", "2024-03-05")
    bad = pl.read_parquet(_day(daily, "quarantined_orders", "2024-03-05"))
    rules = dict(zip(bad["order_id"].to_list(), bad["_rules"].to_list(), strict=True))
    # Undated and out-of-window rows go to the file's first day and fail the partition rule.
    assert "partition:order_ts" in rules["ODD-2"]
    assert "required:order_ts" in rules["ODD-3"]
    # A key already validated on another day is a repeat across the table.
    assert "unique:order_id" in rules[taken]
    # ODD-1 is valid, in the version the failed gates held back; readers never see that day.
    table = daily.data_dir / "lake" / "validation" / "validated_orders"
    held = json.loads((table / "_published.json").read_text())["held_back"]["version"]
    day = table / "_versions" / held / "date=2024-03-05" / FULL_PART
    assert "ODD-1" in pl.read_parquet(day)["order_id"]
    assert not _day(daily, "validated_orders", "2024-03-05").exists()


def test_unpartitioned_by_default_and_bad_setting_is_refused(settings) -> None:
    d = build_definitions(settings)
    assert d.resolve_assets_def("raw_orders").partitions_def is None
    with pytest.raises(ValueError, match="PIPELINE_PARTITIONS"):
        Settings.from_env({"PIPELINE_PARTITIONS": "hourly"})
    with pytest.raises(ValueError, match="PIPELINE_PARTITION_START"):
        Settings.from_env({"PIPELINE_PARTITIONS": "daily", "PIPELINE_PARTITION_START": "soon"})


def test_partitioned_definitions(daily) -> None:
    d = build_definitions(daily)
    dg.Definitions.validate_loadable(d)
    assert d.resolve_job_def("full_pipeline").partitions_def is not None
    for name in ("raw_orders", "validated_orders", "raw_usage_events", "raw_support_tickets"):
        partitions = d.resolve_assets_def(name).partitions_def
        assert isinstance(partitions, dg.DailyPartitionsDefinition)
        assert partitions.get_first_partition_key() == "2024-01-01"
    assert d.resolve_assets_def("raw_customers").partitions_def is None
    assert d.resolve_assets_def("enriched_orders").partitions_def is None
    for a in d.assets:  # type: ignore[union-attr]
        assert isinstance(a, dg.AssetsDefinition)
        assert a.backfill_policy == dg.BackfillPolicy.single_run()
