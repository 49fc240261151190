"""``raw_<dataset>`` of a stream source in real Dagster runs against a real redis-server, through
validation, as a file-fed dataset goes."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.assets.ingestion.stream_helpers import click, produce, write_spec
from tests.assets.ingestion.test_sources import lake_rows, make_settings, meta, run


def test_stream_events_reach_validated_and_quarantined_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
):
    settings = make_settings(tmp_path, monkeypatch, PIPELINE_REDIS_URL=redis_url)
    write_spec(settings.datasets_dir, batch=25)
    # One flagged row in 59 keeps the validity gate (98%) passing.
    payloads = [click(i) for i in range(1, 61)]
    payloads[3] = b"not json at all"
    payloads[6] = click(7, amount="lots")
    ids = produce(redis_url, payloads)

    result = run(settings, "raw_clicks", "validated_clicks", "quarantined_clicks")
    assert result.success
    raw = meta(result, "raw_clicks")
    assert raw["events_read"] == 60
    assert raw["new_rows"] == 59
    assert raw["poison_events"] == 1
    assert raw["batches"] == 3
    assert raw["lag_after"] == 0
    assert raw["events_per_s"] > 0
    assert raw["entry_range"] == f"{ids[0]}...{ids[-1]}"
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert not checks["clicks_source_readable"].passed
    reasons = checks["clicks_source_readable"].metadata["reasons"].value
    assert isinstance(reasons, dict) and str(reasons[ids[3]]).startswith("not JSON")
    validated = lake_rows(settings, "validation", "validated_clicks")
    quarantined = lake_rows(settings, "validation", "quarantined_clicks")
    assert sorted(validated["click_id"].to_list()) == [i for i in range(1, 61) if i not in (4, 7)]
    assert quarantined["click_id"].to_list() == [7]
    assert "_entry_id" in validated.columns and "_arrived_at" in validated.columns
    assert (settings.quarantine_dir / "files" / "clicks" / f"stream-{ids[3]}.json").exists()

    # A second run reads only what arrived since: nothing, then two new events.
    again = run(settings, "raw_clicks")
    assert meta(again, "raw_clicks")["events_read"] == 0
    produce(redis_url, [click(61), click(62)])
    third = run(settings, "raw_clicks")
    assert meta(third, "raw_clicks")["events_read"] == 2
    assert lake_rows(settings, "ingestion", "raw_clicks").height == 61


def test_a_stream_dataset_gets_its_data_freshness_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, redis_url: str
):
    """A stream that stops sending goes stale like a landing folder: the newest row's time is
    judged on every run of the stream's raw asset."""
    import dagster as dg

    from pipeline_defs import build_definitions

    settings = make_settings(tmp_path, monkeypatch, PIPELINE_REDIS_URL=redis_url)
    write_spec(settings.datasets_dir)
    spec_file = settings.datasets_dir / "clicks.yaml"
    spec_file.write_text(
        spec_file.read_text() + "freshness: {column: clicked_at, max_lag_hours: 6, "
        "warn_after_hours: 3}\n"
    )
    produce(redis_url, [click(i) for i in range(1, 4)])  # clicked at 2026-12-01T10:00:00
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()

    def fresh_at(as_of: str) -> dg.AssetCheckEvaluation:
        with dg.instance_for_test() as instance:
            result = job.execute_in_process(
                instance=instance,
                asset_selection=[dg.AssetKey("raw_clicks")],
                run_config={"ops": {"raw_clicks": {"config": {"as_of": as_of}}}},
                raise_on_error=False,
            )
        (check,) = [
            c for c in result.get_asset_check_evaluations() if c.check_name == "clicks_fresh"
        ]
        return check

    fresh = fresh_at("2026-12-01T12:00:00Z")
    assert fresh.passed and fresh.metadata["lag_hours"].value == 2.0
    late = fresh_at("2026-12-01T14:00:00Z")
    assert not late.passed and late.severity == dg.AssetCheckSeverity.WARN
    stale = fresh_at("2026-12-02T10:00:00Z")
    assert not stale.passed and stale.severity == dg.AssetCheckSeverity.ERROR
    assert stale.metadata["lag_hours"].value == 24.0
