"""What an ingestion pass looks at: candidates (landing files, S3 objects, pulls): the files of a
local landing folder, refusing any that lead outside the landing zone, or the objects under an S3
prefix; and how a landing file is opened so that what is read is what was listed."""

from __future__ import annotations

import errno
import os
import stat
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from assets.core.s3 import join_key
from assets.ingestion.ledger import fd_digest, file_digest


class ObjectStore(Protocol):
    """What ingestion needs of an S3 bucket (the ``s3`` resource is one)."""

    def list_objects(self, bucket: str, prefix: str) -> Iterable[dict[str, Any]]: ...

    def download(self, bucket: str, key: str, dest: Path) -> Path: ...

    def upload(self, path: Path, bucket: str, key: str) -> None: ...


@dataclass(frozen=True)
class LandedFile:
    """What the listing saw of a landing-zone file, checked again when it is opened."""

    real: Path  # the resolved path, inside the landing zone
    dev: int
    ino: int
    names_inside: int  # how many names the listed folder has for this file (hard links)


@dataclass(frozen=True)
class Candidate:
    """One input to ingest: a landing file, an S3 object, or a pull from a database or API.

    ``rel`` is its name in the ledger; ``(rel, size, version_ns)`` unchanged means already seen.
    ``fetch(workdir)`` returns a local readable copy (a local file returns itself). ``landed``
    is set for a file of a local landing folder: it may still be being written, and it is
    opened through ``open_landed`` (never by following a link), not ``fetch``.
    """

    rel: str
    size: int
    version_ns: int
    fetch: Callable[[Path], Path]
    local: bool = True
    landed: LandedFile | None = None


class Deferred(Exception):
    """An input that cannot be read as listed right now (still being written, replaced or gone
    since the listing): it is skipped this run, not recorded, and looked at again next run."""


@dataclass(frozen=True)
class Listing:
    """One dataset folder: its files with what was seen of each, and the entries refused."""

    files: list[tuple[Path, LandedFile, os.stat_result]]
    refused: list[tuple[Path, str]]


def local_candidates(
    landing_root: Path, folder: str
) -> tuple[list[Candidate], list[tuple[str, Path, str]]]:
    """Candidates for every file under ``landing_root/folder``, and the refused entries."""
    listing = landing_listing(landing_root, folder)
    root = landing_root.resolve()  # the walk yields resolved paths; the root may be a link
    out = [
        Candidate(
            rel=str(path.relative_to(root)),
            size=st.st_size,
            version_ns=st.st_mtime_ns,
            fetch=lambda _w, p=path: p,
            landed=landed,
        )
        for path, landed, st in listing.files
    ]
    named = [
        (str(p.relative_to(landing_root)) if p.is_relative_to(landing_root) else str(p), p, why)
        for p, why in listing.refused
    ]
    return out, named


def missing_folder_hint(landing_root: Path, folder: str) -> str | None:
    """Why a dataset's landing folder gives nothing, when it does not exist: the folders that
    are there and look like it (``weather-mixed`` for ``weather_mixed``), which no dataset
    reads until one is renamed."""
    if (landing_root / folder).is_dir() or not landing_root.is_dir():
        return None
    there = sorted(p.name for p in landing_root.iterdir() if p.is_dir())
    key = folder.lower().replace("-", "_")
    # Only spellings of the same name: a merely similar folder may be another dataset's.
    alike = [n for n in there if n.lower().replace("-", "_").replace(" ", "_") == key]
    if not alike:
        return None
    shown = " or ".join(f"landing/{n}/" for n in alike)
    return (
        f"landing/{folder}/ does not exist, but {shown} does: this dataset reads only "
        f"landing/{folder}/ (its source.folder), so rename the folder or set source.folder."
    )


def landing_listing(landing_root: Path, folder: str) -> Listing:
    """The regular files under ``landing_root/folder`` (sorted), refusing any entry that leads
    outside the landing zone: a symbolic link (or a folder) resolving outside it, and a hard
    link whose other names are not in the folder (its content may be a file from anywhere)."""
    root = landing_root.resolve()
    base = (landing_root / folder).resolve()
    if not base.is_relative_to(root):
        why = "the folder resolves outside the landing zone"
        return Listing([], [(landing_root / folder, why)])
    if not base.is_dir():
        return Listing([], [])
    seen: list[tuple[Path, Path, os.stat_result]] = []
    refused: list[tuple[Path, str]] = []
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
            try:
                st = real.stat()
            except OSError:
                continue  # gone since the walk saw it
            if stat.S_ISREG(st.st_mode):
                seen.append((p, real, st))
    names = Counter((st.st_dev, st.st_ino) for _p, _real, st in seen)
    files = []
    for p, real, st in seen:
        inside = names[(st.st_dev, st.st_ino)]
        if st.st_nlink > inside:
            refused.append(
                (
                    p,
                    f"it is a hard link: the file has {st.st_nlink} names and only {inside} of "
                    "them in this folder, so its content may come from outside the landing zone",
                )
            )
            continue
        files.append((p, LandedFile(real, st.st_dev, st.st_ino, inside), st))
    return Listing(files, refused)


_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO swapped in must not block the open
    | getattr(os, "O_CLOEXEC", 0)
)


def open_landed(cand: Candidate) -> int:
    """A descriptor of the very file the listing saw (``open_landed_file``)."""
    assert cand.landed is not None
    return open_landed_file(cand.landed)


def open_landed_file(landed: LandedFile) -> int:
    """A descriptor of the very file the listing saw, opened without following a link.

    The opened file must be the listed one (same device and inode), a regular file, with no
    more names than the listing counted: a file swapped after the listing (for a symbolic link,
    a hard link or another file) is never read. That is Deferred, not refused: the next listing
    judges whatever is there then.
    """
    try:
        fd = os.open(landed.real, _OPEN_FLAGS)
    except FileNotFoundError:
        raise Deferred("it is gone since it was listed") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise Deferred("it was replaced by a symbolic link after it was listed") from None
        raise
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or (st.st_dev, st.st_ino) != (landed.dev, landed.ino):
            raise Deferred("it was replaced by another file after it was listed")
        if st.st_nlink > landed.names_inside:
            raise Deferred("it gained a hard link after it was listed")
    except BaseException:
        os.close(fd)
        raise
    return fd


def opened_path(fd: int, fallback: Path) -> Path:
    """A path that reopens the file behind ``fd`` whatever happens to its name since (Linux's
    /proc/self/fd); elsewhere the file's path, whose identity ``open_landed`` checked."""
    proc = Path(f"/proc/self/fd/{fd}")
    return proc if proc.exists() else fallback


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


@dataclass
class Opened:
    """A candidate ready to read: the path the readers open, its hash, whether a NUL byte is
    among its bytes, and for a landing file the descriptor held open until it is done (its path
    reopens that very file)."""

    path: Path
    sha: str
    nul_byte: bool
    fd: int | None = None

    def unchanged(self, cand: Candidate) -> bool:
        if self.fd is None:
            return True
        st = os.fstat(self.fd)
        return (st.st_size, st.st_mtime_ns) == (cand.size, cand.version_ns)


def open_and_hash(cand: Candidate, workdir: Path, settle_s: float) -> Opened:
    """The candidate opened (a landing file once settled, checked to be the listed file) and
    hashed; a local copy first for a remote one."""
    if cand.landed is None:
        path = cand.fetch(workdir)
        try:
            return Opened(path, *file_digest(path))
        except BaseException:
            if not cand.local:
                path.unlink(missing_ok=True)
            raise
    age = time.time() - cand.version_ns / 1e9
    if age < settle_s:
        time.sleep(min(settle_s, settle_s - age))
    fd = open_landed(cand)
    try:
        opened = Opened(opened_path(fd, cand.landed.real), "", False, fd)
        if not opened.unchanged(cand):
            raise Deferred(f"it is still being written (it changed within {settle_s:g} s)")
        opened.sha, opened.nul_byte = fd_digest(fd)
        return opened
    except BaseException:
        os.close(fd)
        raise
