"""Declarative automation: later stages follow upstream updates, never past a failed gate."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg
import pytest

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings

SMALL = {"customers": 300, "orders": 3000}


def test_freshness_and_automation_are_declared(settings: Settings) -> None:
    graph = build_definitions(settings).resolve_asset_graph()
    raw = graph.get(dg.AssetKey("raw_orders"))
    assert raw.automation_condition is None  # ingestion runs on sensors and schedules
    assert raw.freshness_policy.fail_window.to_timedelta() == timedelta(hours=6)  # orders spec
    validated = graph.get(dg.AssetKey("validated_customers"))
    assert validated.freshness_policy is not None
    for key in ("validated_orders", "enriched_orders", "churn_model", "insights_report"):
        condition = graph.get(dg.AssetKey(key)).automation_condition
        assert condition is not None and "blocking" in str(condition).lower(), key


@pytest.mark.parametrize(("value", "status"), [(None, "STOPPED"), ("on", "RUNNING")])
def test_one_automation_sensor_covers_every_automated_asset_and_on_starts_it(
    tmp_path, value: str | None, status: str
) -> None:
    env = {"PIPELINE_DATA_DIR": str(tmp_path), **({"PIPELINE_AUTOMATION": value} if value else {})}
    defs = build_definitions(Settings.from_env(env))
    repo = defs.get_repository_def()
    automation = [
        s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)
    ]
    # Dagster's own default sensor (always stopped) is not added next to it.
    assert [s.name for s in automation] == ["automation_sensor"]
    sensor = automation[0]
    assert sensor.default_status == getattr(dg.DefaultSensorStatus, status)
    graph = defs.resolve_asset_graph()
    automated = {k for k in graph.materializable_asset_keys if graph.get(k).automation_condition}
    assert sensor.asset_selection.resolve(graph) == automated
    assert dg.AssetKey("enriched_orders") in automated


def test_automation_setting_is_on_or_off(tmp_path) -> None:
    with pytest.raises(ValueError, match="PIPELINE_AUTOMATION must be on or off, not 'yes'"):
        Settings.from_env({"PIPELINE_DATA_DIR": str(tmp_path), "PIPELINE_AUTOMATION": "yes"})


@pytest.mark.e2e
@pytest.mark.parametrize("duplicate_key_rate", [0.0, 0.02])
def test_enrichment_follows_validation_only_when_the_gates_pass(
    settings: Settings, duplicate_key_rate: float
) -> None:
    d = build_definitions(settings)
    config = {
        "ops": {
            "sample_landing_data": {
                "config": {**SMALL, "duplicate_key_rate": duplicate_key_rate, "defect_rate": 0}
            }
        }
    }
    with dg.instance_for_test() as instance:
        first = dg.evaluate_automation_conditions(defs=d, instance=instance)
        run = d.resolve_job_def("ingest_and_validate").execute_in_process(
            instance=instance, run_config=config, raise_on_error=False
        )
        assert run.success == (duplicate_key_rate == 0)
        second = dg.evaluate_automation_conditions(defs=d, instance=instance, cursor=first.cursor)
    enriched = second.get_num_requested(dg.AssetKey("enriched_orders"))
    profiles = second.get_num_requested(dg.AssetKey("customer_profiles"))
    if duplicate_key_rate == 0:
        assert enriched == 1 and profiles == 1
    else:
        # validated_orders failed orders_keys_unique (blocking): nothing downstream may start.
        assert enriched == 0 and profiles == 0
