"""Wall and CPU time of consecutive stages, for the benchmark's contenders."""

from __future__ import annotations

import time


class Laps:
    """Wall and CPU seconds (all threads of the process) of consecutive stages."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.start()

    def start(self) -> None:
        self._wall, self._cpu = time.perf_counter(), time.process_time()

    def lap(self, stage: str) -> None:
        """Record ``stage`` as the time since the last ``start``."""
        self.wall[stage] = time.perf_counter() - self._wall
        self.cpu[stage] = time.process_time() - self._cpu
