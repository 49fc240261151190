"""Run one command and report the CPU time and peak RSS of its whole process tree.

    python measure.py COMMAND...

A process of its own, so ``RUSAGE_CHILDREN`` holds that command's tree alone (the children it
waited for, and theirs): user + system seconds summed, ``ru_maxrss`` the largest of them. The
command's stdout passes through; the last line is ``MEASURED {json}``. Standard library only.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

PREFIX = "MEASURED "


def main() -> None:
    started = time.perf_counter()
    proc = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, text=True, check=False)
    wall = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    sys.stdout.write(proc.stdout)
    report = {
        "returncode": proc.returncode,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
    }
    print(PREFIX + json.dumps(report))


if __name__ == "__main__":
    main()
