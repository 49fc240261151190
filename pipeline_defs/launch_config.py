"""Refuse out-of-range run config when a job is launched, before any run exists.

Dagster's config schema checks types, required fields and allowed values (``Literal``) when a run
is launched, but the bounds of a ``dg.Config`` field (``Field(ge=..., le=...)``) are pydantic's,
and pydantic runs only when the step builds its config, after the run has started. Each named job
therefore gets a ``dg.ConfigMapping`` whose schema is the job's own run-config schema (so the
launchpad shows the same fields, defaults and descriptions) and whose function builds every op's
``Config`` class from the submitted values. A value out of bounds makes the launch fail with
``DagsterInvalidConfigError`` naming ``ops.<op>.config.<field>``: the launchpad shows it, and
``dagster job launch``/``execute`` and the GraphQL API return it, and no run is created.

Ad-hoc asset selections (``dagster asset materialize --select``, the asset page's launchpad) run
in Dagster's implicit asset job, and Dagster refuses a config mapping on a partitioned job (the
jobs over daily partitions); in both, the same bounds are enforced by pydantic when the step
starts, before it writes anything.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import ValidationError


def job_config_classes(
    job: dg.JobDefinition, classes: Mapping[str, type[dg.Config]]
) -> dict[str, type[dg.Config]]:
    """Of ``classes`` (each op's ``dg.Config`` class, by op name, as the stages declare them),
    those of the ops in ``job``."""
    return {node.name: classes[node.name] for node in job.graph.nodes if node.name in classes}


def out_of_range(
    classes: Mapping[str, type[dg.Config]], run_config: Mapping[str, Any]
) -> list[str]:
    """One line per field that its ``Config`` class refuses, as ``ops.<op>.config.<field>: why``."""
    ops = run_config.get("ops") or {}
    problems: list[str] = []
    for op, cls in sorted(classes.items()):
        values = (ops.get(op) or {}).get("config") or {}
        try:
            cls(**values)
        except ValidationError as exc:
            for error in exc.errors():
                field = ".".join(str(part) for part in error["loc"])
                problems.append(
                    f"ops.{op}.config.{field}: {error['msg']} (got {error.get('input')!r})"
                )
    return problems


def _refuse_out_of_range(
    job_name: str, classes: Mapping[str, type[dg.Config]], run_config: dict[str, Any]
) -> dict[str, Any]:
    problems = out_of_range(classes, run_config)
    if problems:
        raise dg.DagsterInvalidConfigError(
            f"Run config for job {job_name} refused before the run started:\n  "
            + "\n  ".join(problems),
            [],
            run_config,
        )
    return run_config


def launch_checks(
    job_names: list[str], probe: dg.Definitions, classes: Mapping[str, type[dg.Config]]
) -> dict[str, dg.ConfigMapping]:
    """A launch-time bounds check for each named job whose ops take ``dg.Config``, by job name.

    ``classes`` maps op names to their ``dg.Config`` classes, as each stage declares them:
    Dagster 1.13 offers no public way from an op back to its config class.

    ``probe`` holds the same assets, resources, executor and jobs (without checks) as the final
    definitions, so each job's run-config schema (execution, resources and ops sections) is
    exactly the one the launchpad would show without the mapping, which passes config through.
    """
    checks: dict[str, dg.ConfigMapping] = {}
    for name in job_names:
        resolved = probe.resolve_job_def(name)
        in_job = job_config_classes(resolved, classes)
        # Dagster takes no config mapping on a partitioned job (PIPELINE_PARTITIONS=daily): there
        # the bounds are enforced when each step starts, as for ad-hoc selections.
        if in_job and resolved.partitions_def is None:
            checks[name] = dg.ConfigMapping(
                config_fn=functools.partial(_refuse_out_of_range, name, in_job),
                config_schema=resolved.run_config_schema.config_type,
                receive_processed_config_values=False,  # pass on exactly what was submitted
            )
    return checks
