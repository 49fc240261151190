"""A user's spec file that was refused, as an asset of its own in the ``spec_errors`` group.

With ``PIPELINE_SPEC_ERRORS=skip`` (what `tasks.py dev` and the deployed code server use) a
broken file no longer takes the whole code location down with it: the other datasets load, and
the refused file shows in the asset graph as ``spec_error_<file>``, whose description is the
problem, naming the field. Materializing it (``full_pipeline`` selects it) fails the step with
the same message, so a scheduled run says what to fix instead of silently leaving a dataset out.
"""

from __future__ import annotations

import re
from pathlib import Path

import dagster as dg

GROUP = "spec_errors"


def spec_error_assets(refused: dict[Path, str]) -> list[dg.AssetsDefinition]:
    """One failing asset per refused spec file (sorted by path)."""
    taken: set[str] = set()
    out = []
    for path, problem in sorted(refused.items()):
        base = "spec_error_" + re.sub(r"\W+", "_", path.stem.lower()).strip("_")
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        out.append(_error_asset(name, path, problem))
    if refused:
        dg.get_dagster_logger().warning(
            f"{len(refused)} spec file(s) refused and left out of the code location:\n"
            + "\n".join(sorted(refused.values()))
        )
    return out


def _error_asset(name: str, path: Path, problem: str) -> dg.AssetsDefinition:
    @dg.asset(
        name=name,
        group_name=GROUP,
        description=f"Refused spec file {path.name}; fix it and reload the code location.\n\n"
        f"{problem}",
        metadata={"spec_file": dg.MetadataValue.path(str(path))},
        kinds={"yaml"},
    )
    def _refused() -> None:
        raise dg.Failure(description=problem, allow_retries=False)

    return _refused
