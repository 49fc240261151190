"""Scratch folders named by the process that owns them, and the removal of the ones a killed
process left behind.

A process that dies by ``kill -9`` (or the OOM killer) runs no cleanup, so its temp folders stay
forever unless someone removes them. Every scratch folder made here carries its owner in its name
(``-p<pid>.<start>-``: the process id and the process's start time, so a reused pid is not
mistaken for the owner). ``clean_stale_scratch`` removes a folder only when it is older than a
bound and no live process holds it: for an owned name, its owner is gone; for a name without an
owner (left by older code or by other tools), no live process has a file or working directory in
it (seen through ``/proc`` where there is one).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

STALE_AFTER_S = 600.0
_TAG = r"p\d+\.\d+"
_RANDOM = r"[a-z0-9_]{8}"  # what tempfile appends
# Under a scratch base: the process folders, and the plain temp folders older code made there.
SCRATCH_NAMES = re.compile(rf"{_TAG}|tmp{_RANDOM}")
# Under the system temp folder: ingestion's and the lake's temp folders, owned or from older
# code. Exact shapes, so nobody else's folder is ever taken for one.
SYSTEM_NAMES = re.compile(rf"(?:(?:ingest|pull)-[a-z0-9_]+|lake-upload)-(?:{_TAG}-)?{_RANDOM}")
_OWNER = re.compile(r"(?:^|-)p(\d+)\.(\d+)(?:-|$)")
_made: set[Path] = set()


def _start_ticks(pid: int) -> int:
    """The process's start time in clock ticks since boot (0 where /proc cannot say)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    return int(stat.rpartition(")")[2].split()[19])  # field 22 of proc(5)


def owner_tag(pid: int | None = None) -> str:
    """``p<pid>.<start ticks>`` of a process (this one by default)."""
    pid = os.getpid() if pid is None else pid
    return f"p{pid}.{_start_ticks(pid)}"


def owner_alive(name: str) -> bool | None:
    """Whether the process named in a folder name still runs (None: the name names no owner)."""
    match = _OWNER.search(name)
    if match is None:
        return None
    pid, start = int(match[1]), int(match[2])
    if not _pid_alive(pid):
        return False
    current = _start_ticks(pid)
    return not (current and start and current != start)  # a reused pid is another process


@contextlib.contextmanager
def scratch_folder(prefix: str, parent: Path | None = None) -> Iterator[Path]:
    """A new temp folder named ``<prefix><owner>-<random>``, removed on exit."""
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{owner_tag()}-", dir=parent))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def process_folder(base: Path) -> Path:
    """This process's own folder under ``base`` (made once; removed when the process exits)."""
    path = base / owner_tag()
    path.mkdir(parents=True, exist_ok=True)  # every time: someone may have removed it
    if path not in _made:
        _made.add(path)
        atexit.register(_remove_own, path, os.getpid())
    return path


def _remove_own(path: Path, pid: int) -> None:
    if os.getpid() == pid:  # not in a forked child that inherited the hook
        shutil.rmtree(path, ignore_errors=True)


def _newest_mtime(path: Path) -> float:
    newest = path.lstat().st_mtime
    for dirpath, dirnames, filenames in os.walk(path):
        for name in (*dirnames, *filenames):
            with contextlib.suppress(OSError):
                newest = max(newest, (Path(dirpath) / name).lstat().st_mtime)
    return newest


def held_paths() -> set[str] | None:
    """Every open file and working directory of the processes /proc shows (None: no /proc)."""
    proc = Path("/proc")
    if not (proc / "self" / "fd").is_dir():
        return None
    held: set[str] = set()
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            held.add(str((entry / "cwd").readlink()))
        with contextlib.suppress(OSError):
            for fd in (entry / "fd").iterdir():
                with contextlib.suppress(OSError):
                    held.add(str(fd.readlink()))
    return held


def clean_stale_scratch(
    parent: Path, names: re.Pattern[str], *, older_than_s: float = STALE_AFTER_S
) -> list[Path]:
    """Remove the folders under ``parent`` whose whole name matches ``names`` that no live
    process holds and nothing has touched for ``older_than_s``; return them."""
    if not parent.is_dir():
        return []
    cutoff = time.time() - older_than_s
    held: set[str] | None = None
    removed: list[Path] = []
    for entry in sorted(parent.iterdir()):
        if not names.fullmatch(entry.name):
            continue
        if entry.is_symlink() or not entry.is_dir():
            continue
        alive = owner_alive(entry.name)
        if alive:
            continue
        try:
            if _newest_mtime(entry) > cutoff:
                continue
        except OSError:
            continue  # gone already
        if alive is None:  # no owner in the name: look for a live process using it
            if held is None:
                held = held_paths() or set()
            inside = str(entry.resolve()) + os.sep
            if any(h.startswith(inside) or h == inside[:-1] for h in held):
                continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    return removed


# The temp files of atomic writes: ``.<name>.<random>.tmp`` (through mkstemp), and the
# ``.<name>.<pid>.tmp`` a lake written by an older version of the pipeline may still hold.
_TEMP_FILE = re.compile(r"\..+\.(?:(\d+)|[a-z0-9_]{8})\.tmp")


def clean_stale_temp_files(folder: Path, *, older_than_s: float = STALE_AFTER_S) -> list[Path]:
    """Remove the atomic writes' temp files in ``folder`` that a killed writer left: untouched
    for ``older_than_s``, and whose writer (named by pid, else found through /proc) is gone."""
    if not folder.is_dir():
        return []
    cutoff = time.time() - older_than_s
    held: set[str] | None = None
    removed: list[Path] = []
    for entry in sorted(folder.iterdir()):
        match = _TEMP_FILE.fullmatch(entry.name)
        if match is None or entry.is_symlink() or not entry.is_file():
            continue
        try:
            if entry.stat().st_mtime > cutoff:
                continue
        except OSError:
            continue
        if match[1] is not None:
            if _pid_alive(int(match[1])):
                continue
        else:
            if held is None:
                held = held_paths() or set()
            if str(entry.resolve()) in held:
                continue
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
