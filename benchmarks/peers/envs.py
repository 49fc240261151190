"""Throwaway environments for the peers, one per tool, pinned, under the benchmark's work dir.

Each is a ``uv venv`` with ``uv pip install`` of its pins, cached in ``<work>/uv-cache``; never
the project's lock or pyproject. An environment whose pins are unchanged is reused.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

PYTHON = "3.11"
# The versions measured; DuckDB as the project's own. soda-core-duckdb 3.5.6 requires
# duckdb 1.0.0 itself (its DuckDB data source is pinned there).
PINS: dict[str, list[str]] = {
    "duckdb": ["duckdb==2.0.0"],
    "pandera": ["pandera[polars]==0.35.0", "polars==2.1.0", "pyarrow==26.0.1"],
    "soda": ["soda-core-duckdb==3.5.6", "duckdb==1.0.0"],
    "gx": ["great_expectations==1.24.1", "pandas==3.1.1", "pyarrow==26.0.1"],
}


def uv() -> str:
    """The uv beside the running interpreter (the project's venv installs it), else on PATH."""
    beside = Path(sys.executable).parent / "uv"
    found = str(beside) if beside.exists() else shutil.which("uv")
    if found is None:
        raise SystemExit("uv is needed to build the peers' environments: pip install uv")
    return found


def ensure_env(name: str, work: Path) -> tuple[Path, float]:
    """The Python of tool ``name``'s environment, built if its pins changed; seconds spent."""
    env = work / "envs" / name
    python = env / "bin" / "python"
    stamp = env / "pins.txt"
    wanted = "\n".join(PINS[name])
    if python.exists() and stamp.exists() and stamp.read_text() == wanted:
        return python, 0.0
    started = time.perf_counter()
    shutil.rmtree(env, ignore_errors=True)
    cache = {**os.environ, "UV_CACHE_DIR": str(work / "uv-cache")}
    subprocess.run([uv(), "venv", "-q", "-p", PYTHON, str(env)], check=True, env=cache)
    subprocess.run(
        [uv(), "pip", "install", "-q", "-p", str(python), *PINS[name]], check=True, env=cache
    )
    stamp.write_text(wanted)
    return python, time.perf_counter() - started
