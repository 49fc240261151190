"""Contenders run in processes of their own, so each one's peak RSS and CPU time are its own.

A child is ``python -m benchmarks.run ARGS``; it prints its measurements as one ``RESULT`` line
of JSON, which the parent reads back.
"""

from __future__ import annotations

import json
import subprocess
import sys

PREFIX = "RESULT "


def emit_result(result: dict) -> None:
    """Print ``result`` as the line ``run_for_result`` reads back."""
    print(PREFIX + json.dumps(result))


def run_for_result(args: list[str], label: str, env: dict[str, str] | None = None) -> dict:
    """Run ``python -m benchmarks.run ARGS`` and return the JSON of its last ``RESULT`` line."""
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.run", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(PREFIX)]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{label} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(PREFIX) :])
