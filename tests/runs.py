"""One way for tests to materialize a selection of the real code location in process."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings


def materialize(
    settings: Settings,
    selection: dg.AssetSelection,
    tags: dict[str, str] | None = None,
    run_config: Mapping[str, Any] | None = None,
    extra: Sequence[dg.AssetsDefinition] = (),
) -> dg.ExecuteInProcessResult:
    """Build the definitions for ``settings`` and run ``selection`` on a throwaway instance
    (``tags``: for example a partition range; ``extra``: test-only assets to add, which
    ``selection`` must name to run)."""
    d = build_definitions(settings)
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [*d.assets, *extra],  # type: ignore[list-item]
            resources=d.resources,
            instance=instance,
            raise_on_error=False,
            selection=selection,
            tags=tags,
            run_config=dict(run_config or {}),
        )


def upstream_of(*names: str) -> dg.AssetSelection:
    """``names`` and everything they need, without the sample-data generator."""
    return dg.AssetSelection.assets(
        *names
    ).upstream().required_multi_asset_neighbors() - dg.AssetSelection.assets("sample_landing_data")


def datasets_of(*names: str) -> dg.AssetSelection:
    """``raw_<name>`` and the validation multi-asset of each dataset."""
    return dg.AssetSelection.assets(
        *[f"raw_{n}" for n in names], *[f"validated_{n}" for n in names]
    ).required_multi_asset_neighbors()


def alert_run_failure(instance: dg.DagsterInstance, run_id: str, alerts: Any) -> None:
    """Tick ``run_failure_alert_sensor`` for the failed run ``run_id`` with ``alerts`` as its
    sink, as the daemon does once the run has failed."""
    from sensors.alerting import run_failure_alert_sensor

    run = instance.get_run_by_id(run_id)
    assert run is not None
    failure = next(
        e.dagster_event
        for e in instance.all_logs(run_id)
        if e.dagster_event is not None and e.dagster_event.is_run_failure
    )
    context = dg.build_run_status_sensor_context(
        sensor_name="run_failure_alert_sensor",
        dagster_event=failure,
        dagster_instance=instance,
        dagster_run=run,
        resources={"alerts": alerts},
    ).for_run_failure()
    run_failure_alert_sensor(context)
