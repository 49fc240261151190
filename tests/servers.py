"""Helpers for tests that start real servers and browsers as subprocesses."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

# Headless Chromium from Debian's package, with nothing reaching the network on its own.
BROWSER_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def wait_until_up(url: str, proc: subprocess.Popen, timeout: float) -> bool:
    """Poll ``url`` until it answers; False if ``proc`` exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2)
            return True
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                return False
            time.sleep(0.2)


def start_redis(folder: Path) -> tuple[subprocess.Popen, str] | None:
    """A throwaway ``redis-server`` on a Unix socket in ``folder`` (no port to collide on, no
    persistence); None when the binary is not installed. Returns the process and its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    sock = folder / "redis.sock"
    proc = subprocess.Popen(
        [binary, "--port", "0", "--unixsocket", str(sock), "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("redis-server did not open its socket within 10 s")
        time.sleep(0.02)
    return proc, f"unix://{sock}"
