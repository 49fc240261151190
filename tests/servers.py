"""Helpers for tests that start real servers and browsers as subprocesses."""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.request

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
