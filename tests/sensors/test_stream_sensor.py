"""stream_sensor through build_sensor_context on a real instance and a real redis-server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import dagster as dg

from resources.stream import RedisStreamResource
from sensors.stream import build_stream_sensor
from tests.assets.ingestion.stream_helpers import click, produce, write_spec


def tick(sensor, url: str, cursor: str | None, instance) -> dg.SensorResult:
    context = dg.build_sensor_context(
        cursor=cursor, instance=instance, resources={"redis_stream": RedisStreamResource(url=url)}
    )
    result = sensor(context)
    assert isinstance(result, dg.SensorResult)
    return result


def _skip(result: dg.SensorResult) -> str:
    assert result.skip_reason is not None
    return result.skip_reason.skip_message or ""


def test_runs_are_requested_on_count_or_age_with_range_keys(tmp_path: Path, redis_url: str):
    spec = write_spec(tmp_path / "specs", batch=5, max_events=20)
    spec = spec.model_copy(update={"source": spec.source.model_copy(update={"batch_wait_s": 1})})
    sensor = build_stream_sensor([spec], interval_s=5, running=True)
    assert sensor is not None
    with dg.instance_for_test() as instance:
        empty = tick(sensor, redis_url, None, instance)
        assert not empty.run_requests and _skip(empty) == "clicks: nothing waits"

        ids = produce(redis_url, [click(i) for i in range(3)])
        young = tick(sensor, redis_url, empty.cursor, instance)
        assert not young.run_requests
        assert "3 events wait" in _skip(young)

        time.sleep(1.1)  # the oldest event is now older than batch_wait_s
        old = tick(sensor, redis_url, young.cursor, instance)
        assert old.run_requests is not None and len(old.run_requests) == 1
        request = old.run_requests[0]
        assert request.run_key == f"clicks:{ids[0]}..{ids[2]}"
        assert request.asset_selection == [
            dg.AssetKey("raw_clicks"),
            dg.AssetKey("validated_clicks"),
            dg.AssetKey("quarantined_clicks"),
        ]
        assert request.run_config == {"ops": {"raw_clicks": {"config": {"max_events": 20}}}}
        assert json.loads(old.cursor or "{}")["clicks"]["requested"] == request.run_key

        more = produce(redis_url, [click(i) for i in range(3, 8)])
        counted = tick(sensor, redis_url, old.cursor, instance)
        assert [r.run_key for r in counted.run_requests or []] == [f"clicks:{ids[0]}..{more[-1]}"]


def test_no_second_run_while_one_is_in_flight(tmp_path: Path, redis_url: str):
    spec = write_spec(tmp_path / "specs", batch=1)
    sensor = build_stream_sensor([spec], interval_s=5, running=True)
    produce(redis_url, [click(1)])
    with dg.instance_for_test() as instance:
        instance.add_run(
            dg.DagsterRun(
                job_name="__ASSET_JOB",
                run_id="a" * 36,
                status=dg.DagsterRunStatus.STARTED,
                tags={"pipeline/stream": "clicks"},
            )
        )
        result = tick(sensor, redis_url, None, instance)
        assert not result.run_requests
        assert _skip(result) == "clicks: a run is in flight"


def test_no_stream_dataset_means_no_sensor(tmp_path: Path):
    from assets.core.spec import load_catalog

    assert build_stream_sensor(list(load_catalog().values()), interval_s=5, running=True) is None
