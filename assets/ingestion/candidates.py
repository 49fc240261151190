"""What an ingestion pass looks at: candidates (landing files, S3 objects, pulls): the files of a
local landing folder, refusing any that lead outside the landing zone, or the objects under an S3
prefix."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assets.core.s3 import join_key


class ObjectStore(Protocol):
    """What ingestion needs of an S3 bucket (the ``s3`` resource is one)."""

    def list_objects(self, bucket: str, prefix: str) -> Iterable[dict[str, Any]]: ...

    def download(self, bucket: str, key: str, dest: Path) -> Path: ...

    def upload(self, path: Path, bucket: str, key: str) -> None: ...


@dataclass(frozen=True)
class Candidate:
    """One input to ingest: a landing file, an S3 object, or a pull from a database or API.

    ``rel`` is its name in the ledger; ``(rel, size, version_ns)`` unchanged means already seen.
    ``fetch(workdir)`` returns a local readable copy (a local file returns itself).
    """

    rel: str
    size: int
    version_ns: int
    fetch: Callable[[Path], Path]
    local: bool = True


def local_candidates(
    landing_root: Path, folder: str
) -> tuple[list[Candidate], list[tuple[str, Path, str]]]:
    """Candidates for every file under ``landing_root/folder``, and the refused entries."""
    files, refused = list_landing_files(landing_root, folder)
    root = landing_root.resolve()  # the walk yields resolved paths; the root may be a link
    out = []
    for path in files:
        stat = path.stat()
        out.append(
            Candidate(
                rel=str(path.relative_to(root)),
                size=stat.st_size,
                version_ns=stat.st_mtime_ns,
                fetch=lambda _w, p=path: p,
            )
        )
    named = [
        (str(p.relative_to(landing_root)) if p.is_relative_to(landing_root) else str(p), p, why)
        for p, why in refused
    ]
    return out, named


def list_landing_files(
    landing_root: Path, folder: str
) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Files under ``landing_root/folder`` (sorted) and the entries refused for escaping it."""
    root = landing_root.resolve()
    base = (landing_root / folder).resolve()
    refused: list[tuple[Path, str]] = []
    if not base.is_relative_to(root):
        return [], [(landing_root / folder, "the folder resolves outside the landing zone")]
    if not base.is_dir():
        return [], []
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        for name in sorted(filenames):
            if name.startswith((".", "_")):
                continue  # hidden and in-progress files (e.g. .x.tmp) are not data yet
            p = Path(dirpath) / name
            real = p.resolve()
            if not real.is_relative_to(root):
                refused.append((p, f"it links outside the landing zone (to {real})"))
                continue
            if real.is_file():
                files.append(p)
    return files, refused


def s3_candidates(s3: ObjectStore, bucket: str, prefix: str, folder: str) -> list[Candidate]:
    """Every data object under ``s3://bucket/prefix/folder/``; each is downloaded when needed."""
    base = join_key(prefix, folder)
    out = []
    for obj in s3.list_objects(bucket, base):
        key: str = obj["Key"]
        rest = key[len(base) :].strip("/")
        if not rest or any(part.startswith((".", "_")) for part in rest.split("/")):
            continue  # hidden, in-progress and manifest objects are not data
        out.append(
            Candidate(
                rel=f"s3://{bucket}/{key}",
                size=int(obj["Size"]),
                version_ns=int(obj["LastModified"].timestamp() * 1e9),
                fetch=lambda workdir, k=key: s3.download(bucket, k, workdir / Path(k).name),
                local=False,
            )
        )
    return sorted(out, key=lambda c: c.rel)
