"""landing_zone_sensor through build_sensor_context on a real instance and a real folder."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import dagster as dg
import pytest

import sensors.landing as landing_sensor_module
from assets.core.spec import load_catalog
from resources import LandingZoneResource, S3StorageResource
from sensors.landing import build_landing_zone_sensor


@pytest.fixture
def sensor() -> dg.SensorDefinition:
    return build_landing_zone_sensor(list(load_catalog().values()), job_name="ingest_and_validate")


def tick(sensor, root: Path, cursor: str | None, instance) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor,
        instance=instance,
        resources={
            "landing": LandingZoneResource(root=str(root), quarantine_root=str(root / "q")),
            "s3": S3StorageResource(),
        },
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def test_new_files_start_one_run_and_the_cursor_only_moves_forward(sensor, tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "orders").mkdir(parents=True)
    with dg.instance_for_test() as instance:
        empty = tick(sensor, root, None, instance)
        assert not empty.run_requests
        assert empty.skip_reason is not None

        (root / "orders" / "a.csv").write_text("order_id\nO1\n")
        (root / "orders" / "b.csv").write_text("order_id\nO2\n")
        (root / "orders" / ".c.csv.tmp").write_text("in progress")
        first = tick(sensor, root, empty.cursor, instance)
        assert len(first.run_requests) == 1
        request = first.run_requests[0]
        assert request.run_key.startswith("landing:orders:")
        assert request.asset_selection == [
            dg.AssetKey("raw_orders"),
            dg.AssetKey("validated_orders"),
            dg.AssetKey("quarantined_orders"),
        ]
        assert request.tags["pipeline/new_files"] == "2"

        # The same tick evaluated again without its cursor (a crash before the cursor was saved)
        # asks for the same run_key, which Dagster starts only once.
        replay = tick(sensor, root, empty.cursor, instance)
        assert replay.run_requests[0].run_key == request.run_key

        # After it: nothing new, nothing requested.
        after = tick(sensor, root, first.cursor, instance)
        assert not after.run_requests

        # A "daemon restart" is a new evaluation from the stored cursor: the same bytes under a
        # new name start no run, a genuinely new file does.
        (root / "orders" / "a-again.csv").write_text("order_id\nO1\n")
        restarted = tick(sensor, root, after.cursor, instance)
        assert not restarted.run_requests
        (root / "orders" / "d.csv").write_text("order_id\nO4\n")
        newer = tick(sensor, root, restarted.cursor, instance)
        assert len(newer.run_requests) == 1
        assert newer.run_requests[0].run_key != request.run_key


def test_a_copy_that_keeps_an_old_mtime_is_still_seen(sensor, tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "customers").mkdir(parents=True)
    with dg.instance_for_test() as instance:
        (root / "customers" / "new.csv").write_text("customer_id\nC1\n")
        first = tick(sensor, root, None, instance)
        assert len(first.run_requests) == 1
        old = root / "customers" / "restored.csv"
        old.write_text("customer_id\nC2\n")
        os.utime(old, ns=(1_000_000_000, 1_000_000_000))  # as `cp -p` of a 1970 file would
        second = tick(sensor, root, first.cursor, instance)
        assert len(second.run_requests) == 1


def test_a_large_backlog_is_taken_in_bounded_ticks(
    sensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(landing_sensor_module, "MAX_FILES_PER_TICK", 3)
    root = tmp_path / "landing"
    (root / "products").mkdir(parents=True)
    for i in range(7):
        (root / "products" / f"p{i}.csv").write_text(f"product_id\nP{i}\n")
    with dg.instance_for_test() as instance:
        cursor, counts = None, []
        for _ in range(4):
            result = tick(sensor, root, cursor, instance)
            cursor = result.cursor
            counts.append(
                int(result.run_requests[0].tags["pipeline/new_files"]) if result.run_requests else 0
            )
    assert counts == [3, 3, 1, 0]


def test_a_user_dataset_from_a_spec_is_covered_like_the_builtins(tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples" / "datasets"
    user_sensor = build_landing_zone_sensor(
        list(load_catalog([examples]).values()), job_name="ingest_and_validate"
    )
    root = tmp_path / "landing"
    (root / "invoices").mkdir(parents=True)
    with dg.instance_for_test() as instance:
        empty = tick(user_sensor, root, None, instance)
        (root / "invoices" / "jan.csv").write_text("invoice_id\nINV-000001\n")
        result = tick(user_sensor, root, empty.cursor, instance)
    assert [r.run_key.split(":")[1] for r in result.run_requests] == ["invoices"]
    assert result.run_requests[0].asset_selection == [
        dg.AssetKey("raw_invoices"),
        dg.AssetKey("validated_invoices"),
        dg.AssetKey("quarantined_invoices"),
    ]


def test_a_partitioned_dataset_gets_one_ranged_run_over_its_files_days(tmp_path: Path) -> None:
    from assets.ingestion.defs import daily_partitions
    from assets.ingestion.partitions import RANGE_END_TAG, RANGE_START_TAG

    daily_sensor = build_landing_zone_sensor(
        list(load_catalog().values()),
        job_name="ingest_and_validate",
        partitions_def=daily_partitions(date(2024, 1, 1)),
    )
    root = tmp_path / "landing"
    (root / "orders").mkdir(parents=True)
    header = "order_id,customer_id,product_id,quantity,unit_price,order_ts,channel,status\n"
    (root / "orders" / "a.csv").write_text(
        header
        + "O1,C1,P1,1,2.0,2024-03-05T10:00:00,web,completed\n"
        + "O2,C1,P1,1,2.0,2024-03-02 23:59:00,web,completed\n"
        + "O3,C1,P1,1,2.0,1999-01-01T00:00:00,web,completed\n"  # outside the window
    )
    # Semicolons: the sensor reads dates the way ingestion does.
    (root / "orders" / "b.csv").write_text(
        header.replace(",", ";") + "O4;C1;P1;1;2.0;2024-03-09T08:00:00;web;completed\n"
    )
    with dg.instance_for_test() as instance:
        result = tick(daily_sensor, root, None, instance)
    (request,) = result.run_requests
    assert (request.tags[RANGE_START_TAG], request.tags[RANGE_END_TAG]) == (
        "2024-03-02",
        "2024-03-09",
    )


def test_an_unpartitioned_sensor_sets_no_range(sensor, tmp_path: Path) -> None:
    root = tmp_path / "landing"
    (root / "orders").mkdir(parents=True)
    (root / "orders" / "a.csv").write_text("order_id,order_ts\nO1,2024-03-05T10:00:00\n")
    with dg.instance_for_test() as instance:
        (request,) = tick(sensor, root, None, instance).run_requests
    assert not any(k.startswith("dagster/asset_partition_range") for k in request.tags)


def test_a_file_swapped_for_a_link_after_the_listing_is_not_read(
    sensor, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The sensor reads the file the listing saw, as ingestion does: a link swapped in between
    (here to a file outside the landing zone) is left for the next tick's listing, which
    refuses it, and the cursor does not pass it meanwhile."""
    root = tmp_path / "landing"
    (root / "orders").mkdir(parents=True)
    secret = tmp_path / "secret.csv"
    secret.write_text("order_id\nSECRET-1\n")
    (root / "orders" / "a.csv").write_text("order_id\nO1\n")
    (root / "orders" / "b.csv").write_text("order_id\nO2\n")
    listing = landing_sensor_module.landing_listing

    def listing_then_swap(landing_root: Path, folder: str):
        seen = listing(landing_root, folder)
        swapped = landing_root / folder / "b.csv"
        if swapped.exists() and not swapped.is_symlink():
            swapped.unlink()
            swapped.symlink_to(secret)
        return seen

    monkeypatch.setattr(landing_sensor_module, "landing_listing", listing_then_swap)
    read: list[str] = []
    hash_file = landing_sensor_module.sha256_file

    def recording_hash(path: Path) -> str:
        read.append(Path(path).read_text())
        return hash_file(path)

    monkeypatch.setattr(landing_sensor_module, "sha256_file", recording_hash)
    with dg.instance_for_test() as instance:
        first = tick(sensor, root, None, instance)
        assert [r.tags["pipeline/new_files"] for r in first.run_requests] == ["1"]
        assert read == ["order_id\nO1\n"]
        # The next listing refuses the link (it leads outside the zone): nothing more is read.
        second = tick(sensor, root, first.cursor, instance)
        assert not second.run_requests
    assert all("SECRET" not in text for text in read)
