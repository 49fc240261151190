"""Loading the code location pays only for what definitions need: every CLI call, run worker and
code server loads it, and the heavy libraries of single steps would be paid on each."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("matplotlib", "pandera", "pandas", "sklearn", "scipy", "faker", "redis", "confluent_kafka")


def test_loading_the_definitions_imports_no_step_only_library():
    probe = (
        "import sys, pipeline_defs.definitions; "
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "", f"imported while loading definitions: {out.stdout.strip()}"
