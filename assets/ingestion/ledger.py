"""The ingestion ledger (every input seen: its hash, status and reason) and the quarantine of bad
inputs: a copy set aside with a JSON sidecar that says why. Input files are only ever read."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from assets.core.reader_base import ENVIRONMENT_PATTERN
from assets.core.storage import LakePath, atomic_write_bytes, read_parquet, sink_parquet_atomic
from assets.core.writers import atomic_target

LEDGER_SCHEMA = {
    "path": pl.String,
    "sha256": pl.String,
    "size": pl.Int64,
    "mtime_ns": pl.Int64,
    "status": pl.String,  # ingested | quarantined | duplicate | refused
    "format": pl.String,
    "encoding": pl.String,
    "rows": pl.Int64,
    "flagged_rows": pl.Int64,
    "reason": pl.String,
    "part": pl.String,
    "processed_at": pl.String,
}
HASH_BLOCK = 4 * 1024 * 1024


@dataclass
class FileOutcome:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    status: str
    format: str = ""
    encoding: str = ""
    rows: int = 0
    flagged_rows: int = 0
    reason: str = ""
    part: str = ""
    processed_at: str = ""


def sha256_file(path: Path) -> str:
    return file_digest(path)[0]


def file_digest(path: Path) -> tuple[str, bool]:
    """The SHA-256 of a file's bytes, and whether a NUL byte is among them."""
    with path.open("rb") as fh:
        return fd_digest(fh.fileno())


def fd_digest(fd: int) -> tuple[str, bool]:
    """The SHA-256 of an open file's bytes (read by position: the descriptor's offset stays),
    and whether a NUL byte is among them (a memchr per block, on the way)."""
    digest = hashlib.sha256()
    nul = False
    offset = 0
    while chunk := os.pread(fd, HASH_BLOCK, offset):
        digest.update(chunk)
        nul = nul or b"\x00" in chunk
        offset += len(chunk)
    return digest.hexdigest(), nul


def load_ledger(path: LakePath) -> pl.DataFrame:
    if path.exists():
        return read_parquet(path)
    return pl.DataFrame(schema=LEDGER_SCHEMA)


# The reasons under which earlier versions quarantined a file for an I/O error of the machine.
_IO_VERDICTS = (
    r"^(?:unparseable [a-z.]+: |truncated or corrupt compressed data: |not a readable gzip "
    r"file: |malformed JSON: IO Error: |unreadable Parquet \(truncated or corrupt\): )"
)


def machine_fault_verdicts(ledger: pl.DataFrame) -> pl.DataFrame:
    """Quarantines whose reason is a fault of the machine (a full disk, no memory...), recorded
    before such faults failed the step instead; their files deserve another read. Only the
    verdicts that wrapped an I/O error count: other reasons can quote the file."""
    reason = pl.col("reason")
    return ledger.filter(
        (pl.col("status") == "quarantined")
        & reason.str.contains(_IO_VERDICTS)
        & reason.str.contains(ENVIRONMENT_PATTERN)
    )


def save_ledger(ledger: pl.DataFrame, outcomes: list[FileOutcome], path: LakePath) -> None:
    """The ledger with this pass's outcomes added (one row per path, hash and status)."""
    new = pl.DataFrame([asdict(o) for o in outcomes], schema=LEDGER_SCHEMA)
    merged = pl.concat([ledger, new]).unique(subset=["path", "sha256", "status"], keep="last")
    path.parent.mkdir(parents=True, exist_ok=True)
    sink_parquet_atomic(merged.sort("processed_at", "path"), path)


def quarantine_file(
    src: Path,
    sha: str,
    reason: str,
    entity: str,
    qdir: Path,
    copy: bool,
    *,
    label: str | None = None,
) -> Path:
    """Copy a bad file aside (atomically) with a JSON sidecar that says why.

    ``label`` is where the file came from when ``src`` is only a local copy (an S3 object, an
    API response) or a descriptor's path; the copy is named after it and the sidecar names it.
    """
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / f"{sha[:16]}-{Path(label).name if label else src.name}"
    if copy and not target.exists():
        # A unique temp name: two threads of one process may quarantine the same file.
        with atomic_target(target) as tmp:
            shutil.copyfile(src, tmp)
    sidecar = {
        "entity": entity,
        "file": label or str(src),
        "sha256": sha,
        "reason": reason,
        "copied_to": str(target) if copy else None,
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_bytes(
        target.with_name(target.name + ".json"), json.dumps(sidecar, indent=2).encode()
    )
    return target
