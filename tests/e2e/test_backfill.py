"""A partitioned backfill run by the real daemon: queued ranged runs, each in its own process, on
the Postgres instance, with the landing zone and the lake on an S3-compatible server on loopback,
at the same time; the lake they leave on S3 equals a single-process run's on local disk."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from assets.ingestion.partitions import range_tags
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from resources.lake import LakeResource
from tests.e2e.daemon import (
    ROOT,
    cli_env,
    dagster,
    instance_at,
    make_home,
    running_daemon,
    wait_for,
)

pytestmark = pytest.mark.e2e

RANGES = [("2024-03-01", "2024-03-10"), ("2024-03-11", "2024-03-20"), ("2024-03-21", "2024-03-30")]
TABLES = [
    ("ingestion", "raw_orders"),
    ("validation", "validated_orders"),
    ("validation", "quarantined_orders"),
    ("validation", "quarantined_support_tickets"),
    ("validation", "validated_usage_events"),
    ("validation", "validated_support_tickets"),
    ("validation", "validated_customers"),
]
SEED = "ops:\n  sample_landing_data:\n    config: {customers: 500, orders: 20000}\n"


def _fingerprint(lake: LakeResource, group: str, table: str) -> tuple[int, int]:
    """Row count and an order-independent checksum of a table's rows over all its files."""
    frame = lake.scan(group, table).collect()
    frame = frame.select(sorted(frame.columns))
    return frame.height, int(frame.hash_rows(seed=0).sum())


def _reference(tmp_path: Path, landing: str, aws: dict[str, str]) -> LakeResource:
    """The same three ranges, one after another, in this process."""
    settings = Settings.from_env(
        {
            **aws,
            "PIPELINE_DATA_DIR": str(tmp_path / "reference"),
            "PIPELINE_LANDING_URI": landing,
            "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
            "PIPELINE_PARTITIONS": "daily",
            "PIPELINE_QUALITY_POLICY": "warn",
        }
    )
    d = build_definitions(settings)
    job = d.resolve_job_def("ingest_and_validate")
    with dg.instance_for_test() as instance:
        for first, last in RANGES:
            result = job.execute_in_process(instance=instance, tags=range_tags(first, last))
            assert result.success
    return LakeResource(root=str(tmp_path / "reference" / "lake"))


def test_thirty_days_as_three_concurrent_queued_runs_equal_a_single_process_run(
    tmp_path: Path, pg_instance_url: str, s3_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DAGSTER_PG_URL", pg_instance_url)  # this process reads the instance too
    home = make_home(tmp_path, ROOT / "instance" / "dagster.postgres.yaml")
    # warn: a 10-day slice of tickets with planted defects can miss a gate; this test is about
    # concurrency, and the quarantine is compared either way.
    aws = {k: v for k, v in s3_env.items() if k.startswith("AWS_")}
    landing = f"s3://{s3_env['BUCKET']}/landing"  # the landing zone on moto's S3 server
    lake_uri = f"s3://{s3_env['BUCKET']}/lake"  # and the lake every run process shares
    env = cli_env(
        tmp_path,
        home,
        **aws,
        PIPELINE_LANDING_URI=landing,
        PIPELINE_LAKE_URI=lake_uri,
        DAGSTER_PG_URL=pg_instance_url,
        PIPELINE_PARTITIONS="daily",
        PIPELINE_QUALITY_POLICY="warn",
    )
    config = tmp_path / "seed.yaml"
    config.write_text(SEED)
    seed = dagster(
        env, "asset", "materialize", "-m", "pipeline_defs", "--select", "sample_landing_data",
        "-c", str(config),
    )  # fmt: skip
    assert seed.returncode == 0, seed.stderr[-3000:]

    run_ids = []
    for first, last in RANGES:
        launched = dagster(
            env, "job", "launch", "-w", "workspace.yaml", "-j", "ingest_and_validate",
            "--tags", json.dumps({**range_tags(first, last), "test": "backfill"}),
        )  # fmt: skip
        assert launched.returncode == 0, launched.stderr[-3000:]
    log = tmp_path / "daemon.log"
    with instance_at(home) as instance:
        queued = instance.get_runs(filters=dg.RunsFilter(tags={"test": "backfill"}))
        assert [r.status for r in queued] == [dg.DagsterRunStatus.QUEUED] * 3
        run_ids = [r.run_id for r in queued]
        with running_daemon(env, log):
            wait_for(
                "the three queued runs to finish",
                lambda: all(instance.get_run_by_id(i).is_finished for i in run_ids),  # type: ignore[union-attr]
                600,
                log,
            )
        runs = [instance.get_run_by_id(i) for i in run_ids]
        assert [r.status for r in runs] == [dg.DagsterRunStatus.SUCCESS] * 3  # type: ignore[union-attr]
        records = {
            r.dagster_run.run_id: r
            for r in instance.get_run_records(filters=dg.RunsFilter(run_ids=run_ids))
        }
        pids = {
            i: {
                e.dagster_event.pid
                for e in instance.all_logs(i)
                if e.dagster_event and e.dagster_event.pid
            }
            for i in run_ids
        }
        partitions = set()
        for i in run_ids:
            for record in instance.get_records_for_run(
                i, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION
            ).records:
                mat = record.event_log_entry.asset_materialization
                if mat is not None:
                    partitions.add((mat.asset_key.to_user_string(), mat.partition))
    # Each run in its own process, and the runs overlapped in time.
    assert all(len(p) >= 1 for p in pids.values())
    assert len(set().union(*pids.values())) >= 3
    spans = sorted((r.start_time or 0.0, r.end_time or 0.0) for r in records.values())
    assert any(spans[i + 1][0] < spans[i][1] for i in range(2)), spans
    assert "database is locked" not in log.read_text(errors="replace")
    days = {f"2024-03-{d:02d}" for d in range(1, 31)}
    assert {p for a, p in partitions if a == "validated_orders"} == days

    assert not (tmp_path / "data" / "lake").exists()  # no worker wrote a local lake
    lake = LakeResource(root=lake_uri)
    reference = _reference(tmp_path, landing, aws)
    for group, table in TABLES:
        assert _fingerprint(lake, group, table) == _fingerprint(reference, group, table), table
