"""The Dagster instance the pipeline's benchmark runs store their events in.

``sqlite`` is a fresh embedded instance, the local default; ``postgres`` is dagster-postgres at
``$DAGSTER_PG_URL`` with the instance config shipped for production, as it runs there. The
parent process passes the choice to the contenders' processes in ``INSTANCE_ENV``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

INSTANCE_ENV = "PIPELINE_BENCH_INSTANCE"
INSTANCES = ("sqlite", "postgres")
# The instance config shipped for production (``PIPELINE_INSTANCE=postgres``), used as it is.
POSTGRES_INSTANCE_YAML = (
    Path(__file__).resolve().parent.parent / "instance" / "dagster.postgres.yaml"
)
POSTGRES_NEEDS_URL = "--instance postgres needs DAGSTER_PG_URL (postgresql://user:pass@host/db)"


@contextlib.contextmanager
def bench_instance() -> Iterator[Any]:
    """The instance ``INSTANCE_ENV`` names: for ``postgres``, the shipped production config. The
    URL stays in the environment (the config names the variable), so the password is never
    written or printed."""
    import dagster as dg

    kind = os.environ.get(INSTANCE_ENV, "sqlite")
    if kind not in INSTANCES:
        raise SystemExit(f"{INSTANCE_ENV} must be one of {', '.join(INSTANCES)}, not {kind!r}")
    if kind == "sqlite":
        with dg.instance_for_test() as instance:
            yield instance
        return
    if not os.environ.get("DAGSTER_PG_URL"):
        raise SystemExit(POSTGRES_NEEDS_URL)
    with tempfile.TemporaryDirectory(prefix="bench-home-") as home:
        shutil.copyfile(POSTGRES_INSTANCE_YAML, Path(home) / "dagster.yaml")
        with dg.DagsterInstance.from_config(home) as instance:
            yield instance
