"""tasks.py, the commands a new user types first."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import tasks

ROOT = Path(__file__).resolve().parents[1]


def test_ctrl_c_waits_for_the_command_and_exits_130_without_a_traceback(tmp_path):
    # A terminal's Ctrl-C reaches the whole foreground process group: the command (here a
    # stand-in for `dagster dev`) shuts down cleanly, and tasks.py must not add a traceback.
    ready = tmp_path / "ready"
    child = (
        "import pathlib, signal, sys, time\n"
        "def stop(*_):\n"
        "    print('command shut down cleanly', flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        f"pathlib.Path({str(ready)!r}).touch()\n"
        "time.sleep(60)\n"
    )
    parent = f"import sys, tasks; tasks.run(sys.executable, '-c', {child!r})"
    proc = subprocess.Popen(
        [sys.executable, "-c", parent],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while not ready.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert ready.exists()
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert "command shut down cleanly" in out
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert proc.returncode == 130


def test_a_config_file_given_to_demo_is_found_from_where_the_command_was_typed(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)
    args = tasks.demo_args(["--verbose", "-c", "small.yaml", "--config", "/abs/big.yaml"])
    assert args == ["--verbose", "-c", str(tmp_path / "small.yaml"), "--config", "/abs/big.yaml"]
