"""One way for tests to materialize a selection of the real code location in process."""

from __future__ import annotations

import dagster as dg

from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings


def materialize(
    settings: Settings, selection: dg.AssetSelection, tags: dict[str, str] | None = None
) -> dg.ExecuteInProcessResult:
    """Build the definitions for ``settings`` and run ``selection`` on a throwaway instance
    (``tags``: for example a partition range)."""
    d = build_definitions(settings)
    with dg.instance_for_test() as instance:
        return dg.materialize(
            list(d.assets),  # type: ignore[arg-type]
            resources=d.resources,
            instance=instance,
            raise_on_error=False,
            selection=selection,
            tags=tags,
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
