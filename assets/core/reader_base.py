"""What every landing reader shares: the two kinds of failure (the file's, the machine's), the
rule that turns source names into column names, and the CPU budget of one file."""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Iterable


class BadFile(Exception):
    """An expected, explainable problem with one landing file; it gets quarantined."""


class EnvironmentFault(Exception):
    """The machine failed, not the file: a full disk or temp folder, no memory, no permission, a
    lost connection. The step fails so it is retried; the file is never recorded as bad."""


# errno values that describe the machine (disk, quota, memory, permissions, descriptors, network),
# never the bytes of a file.
ENVIRONMENT_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ENOSPC",
        "EDQUOT",
        "ENOMEM",
        "EACCES",
        "EPERM",
        "EROFS",
        "EIO",
        "EFBIG",
        "EMFILE",
        "ENFILE",
        "ENOBUFS",
        "ETIMEDOUT",
        "ECONNRESET",
        "ECONNREFUSED",
        "ECONNABORTED",
        "EHOSTUNREACH",
        "ENETUNREACH",
        "ENETDOWN",
        "ESTALE",
    )
    if hasattr(errno, name)
)
_NUMBERS = "|".join(str(n) for n in sorted(ENVIRONMENT_ERRNOS))
# An error message that names a fault of the machine: one of those errno values as Polars
# ("(os error 28)"), DuckDB ('"errno":"28"') or Python ("[Errno 28]") write it, or its words.
# Plain regex syntax, so Polars' str.contains can use it too.
ENVIRONMENT_PATTERN = (
    rf"(?i)os error ({_NUMBERS})\)|\"errno\":\s*\"?({_NUMBERS})\b|\[errno ({_NUMBERS})\]|"
    "no space left on device|disk quota exceeded|cannot allocate memory|out of memory|"
    "permission denied|read-only file system|file too large|too many open files"
)
_ENVIRONMENT = re.compile(ENVIRONMENT_PATTERN)


def environment_cause(exc: BaseException) -> str | None:
    """Why ``exc`` (or an exception it was raised from) is the machine's fault, else None."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, EnvironmentFault):
            return str(current)
        if isinstance(current, MemoryError) or type(current).__name__ == "OutOfMemoryException":
            return f"out of memory ({type(current).__name__})"
        if isinstance(current, ConnectionError | TimeoutError):
            return f"{type(current).__name__}: {current}"
        if isinstance(current, OSError) and current.errno in ENVIRONMENT_ERRNOS:
            return f"{current.strerror or current} (errno {current.errno})"
        if _reports_io(current) and environment_text(str(current)):
            return str(current).strip().splitlines()[0][:300]
        suppressed = current.__suppress_context__
        current = current.__cause__ or (None if suppressed else current.__context__)
    return None


def _reports_io(exc: BaseException) -> bool:
    """Whether the message of ``exc`` reports the operating system's answer to an I/O call.

    Only those messages are read for a machine fault: parse errors can quote the file (DuckDB
    echoes a JSON object with a duplicate key), and a file must not make itself a machine fault
    by holding the words of one.
    """
    return isinstance(exc, OSError) or type(exc).__name__ in ("ComputeError", "IOException")


def environment_text(text: str) -> bool:
    """Whether an error message names a fault of the machine (ENVIRONMENT_PATTERN)."""
    return _ENVIRONMENT.search(text) is not None


def raise_if_environment(exc: BaseException) -> None:
    """Re-raise a fault of the machine as EnvironmentFault before a caller blames the file."""
    cause = environment_cause(exc)
    if cause is not None:
        raise EnvironmentFault(cause) from exc


def normalize_name(name: str) -> str:
    """'Customer ID ' -> 'customer_id': headers from any source map onto spec column names."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lstrip("\ufeff")).strip("_").lower()
    return cleaned or "column"


def column_names(names: Iterable[str], what: str) -> dict[str, str]:
    """Each source name's column name; BadFile when two sources would share one column.

    Two columns of one name cannot be told apart downstream (and Polars refuses them), so a file
    whose headers collide after normalising (``id`` and ``ID``, ``Order-ID`` and ``order_id``)
    is refused with both names rather than one of them being renamed or dropped.
    """
    out: dict[str, str] = {}
    owner: dict[str, str] = {}
    for name in names:
        column = normalize_name(name)
        if column in owner:
            first = owner[column]
            same = " (the same name twice)" if first == name else ""
            raise BadFile(
                f"the {what} {first!r} and {name!r} would both be column {column!r}{same}; "
                "rename one at the source"
            )
        owner[column] = name
        out[name] = column
    return out


class Budget:
    """The CPU time one file may take in the readers' Python loops (XML, transcoding).

    CPU seconds of the reading thread, not wall time: a loaded machine slows every file, and a
    file refused for that would be blamed for the machine. The allowance is generous (about a
    hundred times what the slowest reader needs per megabyte), so only a file built to be slow
    runs out.
    """

    BASE_S = 30.0
    PER_MB_S = 2.0

    def __init__(self, size_bytes: int, seconds: float | None = None) -> None:
        self.seconds = (
            seconds if seconds is not None else self.BASE_S + self.PER_MB_S * size_bytes / 1e6
        )
        self.started = time.thread_time()

    def check(self, doing: str) -> None:
        used = time.thread_time() - self.started
        if used > self.seconds:
            raise BadFile(
                f"{doing} took over {self.seconds:,.0f} s of CPU time, the budget for a file of "
                "this size: a file this slow to read is refused"
            )
