"""Write-audit-publish for a lake table: every write is a new version beside the published one,
and a small pointer file names the published version's parts.

A version's files go under ``<table>/_versions/<version>/``; nothing reads them until the
pointer (``<table>/_published.json``, see ``storage.read_pointer``) names them. The pointer is
replaced whole (a rename locally, one PUT on S3) only when the version passed its audit, so a
reader (``Lake.parts``, and through it every scan and DuckDB view) sees the last published
version or the new one, never a version that failed. A version that failed is held back: the
pointer keeps the published parts and says which version was held back and why. Versions older
than the keep window that the pointer does not name are pruned.
"""

from __future__ import annotations

import fcntl
import json
import random
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from assets.core.storage import (
    PUBLISHED,
    LakePath,
    atomic_write_bytes,
    legacy_parts,
    read_pointer,
    remove_tree,
)

VERSIONS = "_versions"
KEEP_VERSIONS_HOURS = 168
_STAMP = "%Y%m%dT%H%M%S"
_DAY = re.compile(r"(?:^|/)date=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class Version:
    """A version being written: its name, its folder, and the table's folder."""

    name: str
    directory: LakePath
    table_dir: LakePath


def new_version(table_dir: LakePath, now: datetime) -> Version:
    """A fresh version of the table: named by its UTC time (so names sort by age) and a random
    suffix (two runs in one second never share one)."""
    name = f"{now.astimezone(UTC).strftime(_STAMP)}Z-{uuid.uuid4().hex[:8]}"
    return Version(name, table_dir / VERSIONS / name, table_dir)


def relative(path: LakePath, table_dir: LakePath) -> str:
    """``path`` relative to the table folder, as the pointer names parts (local and S3 alike)."""
    return str(path)[len(str(table_dir)) + 1 :]


def day_of(part: str) -> str | None:
    """The ``YYYY-MM-DD`` of a part in a ``date=`` folder (None for a top-level part)."""
    found = _DAY.search(part)
    return found[1] if found else None


def _current_parts(table_dir: LakePath, pointer: dict[str, Any] | None) -> list[str]:
    """The parts readers see now, relative to the table folder: the pointer's, or for a table
    written before it was versioned, the parts at its top level."""
    if pointer is not None:
        return list(pointer["parts"])
    return [relative(p, table_dir) for p in legacy_parts(table_dir)]


def _part_order(part: str) -> tuple[str, str]:
    return (day_of(part) or "", part)


def candidate_parts(
    version: Version,
    written: Sequence[LakePath],
    days: Sequence[date] | None,
    pointer: dict[str, Any] | None,
) -> list[str]:
    """The table's parts if ``version`` is published over ``pointer``: only its own for a
    whole-table write; for a write of ``days``, the published parts of every other day and this
    version's parts."""
    mine = [relative(p, version.table_dir) for p in written]
    if days is None:
        return sorted(mine, key=_part_order)
    rewritten = {d.isoformat() for d in days} | {None}
    kept = [p for p in _current_parts(version.table_dir, pointer) if day_of(p) not in rewritten]
    return sorted(kept + mine, key=_part_order)


Change = Callable[[dict[str, Any] | None], dict[str, Any]]


def _update_pointer(table_dir: LakePath, change: Change) -> dict[str, Any]:
    """Replace the pointer with ``change(current pointer)``, atomically, with no update lost to
    another run's at the same time (two runs of different partition ranges each keep the
    other's days): under an exclusive file lock locally; on S3 a conditional PUT (If-Match on
    the pointer's ETag, If-None-Match for the first), read and retried when another run's came
    first."""
    if isinstance(table_dir, Path):
        table_dir.mkdir(parents=True, exist_ok=True)
        with (table_dir / f".{PUBLISHED}.lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                pointer = change(read_pointer(table_dir))
                atomic_write_bytes(table_dir / PUBLISHED, json.dumps(pointer, indent=1).encode())
                return pointer
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
    client, key = table_dir.s3.client(), (table_dir / PUBLISHED).key
    for attempt in range(30):
        try:
            got = client.get_object(Bucket=table_dir.bucket, Key=key)
            current, condition = json.loads(got["Body"].read()), {"IfMatch": got["ETag"]}
        except client.exceptions.NoSuchKey:
            current, condition = None, {"IfNoneMatch": "*"}
        pointer = change(current)
        body = json.dumps(pointer, indent=1).encode()
        try:
            client.put_object(Bucket=table_dir.bucket, Key=key, Body=body, **condition)
            return pointer
        except client.exceptions.ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            if code not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise
            time.sleep(random.uniform(0.05, 0.2) * (attempt + 1))
    raise TimeoutError(f"{table_dir / PUBLISHED}: other runs kept replacing it; try again")


def publish(
    version: Version, written: Sequence[LakePath], days: Sequence[date] | None, now: datetime
) -> dict[str, Any]:
    """Make ``version`` what readers see, with the published days it did not rewrite (one
    atomic replace of the pointer); returns the pointer."""

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        return {
            "version": version.name,
            "parts": candidate_parts(version, written, days, current),
            "published_at": now.astimezone(UTC).isoformat(),
            "held_back": None,
        }

    return _update_pointer(version.table_dir, change)


def hold_back(version: Version, because: Sequence[str], now: datetime) -> dict[str, Any]:
    """Keep the published parts and record that ``version`` was held back and why; returns the
    pointer. Readers keep reading the parts they read before."""

    def change(current: dict[str, Any] | None) -> dict[str, Any]:
        pointer = current or {
            "version": None,
            "parts": _current_parts(version.table_dir, None),
            "published_at": None,
        }
        at = now.astimezone(UTC).isoformat()
        held = {"version": version.name, "because": list(because), "at": at}
        return {**pointer, "held_back": held}

    return _update_pointer(version.table_dir, change)


def prune_versions(table_dir: LakePath, keep_hours: float, now: datetime) -> list[str]:
    """Remove the versions older than ``keep_hours`` that the pointer does not name (the
    published one is never removed, however old); returns the names removed."""
    pointer = read_pointer(table_dir)
    if pointer is None:
        return []
    named = {p.split("/")[1] for p in pointer["parts"] if p.startswith(f"{VERSIONS}/")}
    cutoff = now.astimezone(UTC) - timedelta(hours=keep_hours)
    found = {
        relative(p, table_dir).split("/")[1]
        for pattern in (f"{VERSIONS}/*/*.parquet", f"{VERSIONS}/*/date=*/*.parquet")
        for p in table_dir.glob(pattern)
    }
    removed = []
    for name in sorted(found - named):
        try:
            made = datetime.strptime(name.split("Z-")[0], _STAMP).replace(tzinfo=UTC)
        except ValueError:
            continue  # not a version this module named: leave it
        if made < cutoff:
            remove_tree(table_dir / VERSIONS / name)
            removed.append(name)
    return removed
