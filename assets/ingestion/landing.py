"""One ingestion pass over a landing folder: new files in, typed Parquet parts out, nothing lost.

A file is identified by the SHA-256 of its bytes and recorded in a ledger (Parquet, replaced
atomically) that survives restarts. Good files become one lake part each, named by their hash, so a
crash between the part and the ledger write only repeats an idempotent write. Bad files are copied
to quarantine with a JSON sidecar. Input files are only ever read.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from assets.core.readers import BadFile, detect_format, read_landing_file
from assets.core.spec import DatasetSpec
from assets.core.storage import (
    SCHEMA_PART,
    LakePath,
    atomic_write_bytes,
    read_parquet,
    scan_parquet,
    scan_parts,
    sink_parquet_atomic,
)
from assets.ingestion.candidates import Candidate, local_candidates
from assets.ingestion.conform import conform, empty_table

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


@dataclass
class IngestReport:
    entity: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    waiting: int = 0  # new inputs left for the next run by ``max_new``

    def by_status(self, status: str) -> list[FileOutcome]:
        return [o for o in self.outcomes if o.status == status]

    @property
    def rows(self) -> int:
        return sum(o.rows for o in self.by_status("ingested"))

    @property
    def flagged_rows(self) -> int:
        return sum(o.flagged_rows for o in self.by_status("ingested"))

    @property
    def bytes(self) -> int:
        return sum(o.size for o in self.by_status("ingested"))


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def parse_failure(fmt: str, exc: Exception) -> str:
    """One sentence for a file the engine could not parse, without echoing its content."""
    text = str(exc)
    if "not properly escaped" in text:
        return f"unparseable {fmt}: an unterminated or unescaped quote"
    if "found more fields than defined" in text or "ragged" in text:
        return f"unparseable {fmt}: rows have more fields than the header"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"unparseable {fmt}: {first[:200]}"


def load_ledger(path: LakePath) -> pl.DataFrame:
    if path.exists():
        return read_parquet(path)
    return pl.DataFrame(schema=LEDGER_SCHEMA)


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
    API response); the sidecar names it.
    """
    qdir.mkdir(parents=True, exist_ok=True)
    target = qdir / f"{sha[:16]}-{src.name}"
    if copy and not target.exists():
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        shutil.copyfile(src, tmp)
        os.replace(tmp, target)
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


def _ingest_one(
    spec: DatasetSpec,
    path: Path,
    outcome: FileOutcome,
    table_dir: LakePath,
    workdir: Path,
    limit: int,
) -> None:
    """Read, conform and write one file as a lake part; raise BadFile with a reason if it is bad."""
    if outcome.size == 0:
        raise BadFile("zero-byte file")
    if outcome.size > limit:
        raise BadFile(f"{outcome.size:,} bytes is over the {limit:,}-byte limit for one file")
    with path.open("rb") as fh:
        head = fh.read(64)
    fmt = detect_format(Path(outcome.path), head)
    lf, info = read_landing_file(path, fmt, workdir, [c.name for c in spec.columns])
    conformed = conform(lf, spec, source_file=outcome.path, file_sha256=outcome.sha256)
    part = table_dir / f"part-{outcome.sha256[:16]}.parquet"
    try:
        sink_parquet_atomic(conformed, part)
    except pl.exceptions.PolarsError as exc:
        raise BadFile(parse_failure(fmt, exc)) from None
    counts = (
        scan_parquet(part)
        .select(
            pl.len().alias("rows"),
            pl.col("_ingest_errors").is_not_null().sum().alias("flagged"),
        )
        .collect()
    )
    if counts["rows"][0] == 0:
        part.unlink()
        raise BadFile("no data rows")
    outcome.status = "ingested"
    outcome.format = info.get("format", fmt)
    outcome.encoding = info.get("encoding", "")
    outcome.rows = int(counts["rows"][0])
    outcome.flagged_rows = int(counts["flagged"][0])
    outcome.part = part.name


def _fetch_and_hash(cand: Candidate, workdir: Path) -> tuple[Path, str]:
    """A local copy of the candidate (the file itself when local) and its SHA-256."""
    path = cand.fetch(workdir)
    try:
        return path, sha256_file(path)
    except BaseException:
        if not cand.local:
            path.unlink(missing_ok=True)
        raise


def ingest_landing_folder(
    spec: DatasetSpec,
    *,
    landing_root: Path,
    table_dir: LakePath,
    ledger_path: LakePath,
    quarantine_dir: Path,
    max_file_bytes: int | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> IngestReport:
    """Ingest every new file of one dataset's local landing folder (see the module docstring)."""
    candidates, refused = local_candidates(landing_root, spec.landing_folder)
    return ingest_candidates(
        spec,
        candidates,
        refused=refused,
        table_dir=table_dir,
        ledger_path=ledger_path,
        quarantine_dir=quarantine_dir,
        max_file_bytes=max_file_bytes,
        log=log,
    )


def ingest_candidates(
    spec: DatasetSpec,
    candidates: Iterable[Candidate],
    *,
    table_dir: LakePath,
    ledger_path: LakePath,
    quarantine_dir: Path,
    refused: Iterable[tuple[str, Path, str]] = (),
    max_file_bytes: int | None = None,
    log: Callable[[str], None] = lambda _m: None,
    max_new: int | None = None,
) -> IngestReport:
    """Ingest every candidate not already in the ledger; the same bytes twice are a duplicate.

    ``max_new`` caps how many new candidates this call reads (in name order); the rest are
    counted in ``report.waiting`` and picked up by the next call, since the ledger skips the
    ones already done.
    """
    started = time.perf_counter()
    report = IngestReport(spec.name)
    limit = max_file_bytes or spec.max_file_bytes
    ledger = load_ledger(ledger_path)
    known = {
        (r["path"], r["size"], r["mtime_ns"]): r["sha256"] for r in ledger.iter_rows(named=True)
    }
    seen_sha = {
        r["sha256"]: r["path"] for r in ledger.iter_rows(named=True) if r["status"] != "refused"
    }
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for rel, path, why in refused:
        if not ledger.filter((pl.col("path") == rel) & (pl.col("status") == "refused")).is_empty():
            continue
        log(f"Refused {rel}: {why}.")
        quarantine_file(path, "0" * 64, f"refused: {why}", spec.name, quarantine_dir, copy=False)
        report.outcomes.append(FileOutcome(rel, "", 0, 0, "refused", reason=why, processed_at=now))
    table_dir.mkdir(parents=True, exist_ok=True)
    schema_part = table_dir / SCHEMA_PART
    if not schema_part.exists():
        sink_parquet_atomic(empty_table(spec), schema_part)
    todo: list[Candidate] = []
    for cand in candidates:
        if (cand.rel, cand.size, cand.version_ns) in known:
            continue  # already processed, unchanged: no need to fetch or hash it again
        if max_new is not None and len(todo) >= max_new:
            report.waiting += 1
            continue
        todo.append(cand)
    # The next input is fetched and hashed on a second thread while this one is read: hashing
    # (and an S3 download) is one core of plain Python I/O that the Polars work leaves free.
    with (
        tempfile.TemporaryDirectory(prefix=f"ingest-{spec.name}-") as tmp,
        ThreadPoolExecutor(1, thread_name_prefix=f"prefetch-{spec.name}") as prefetch,
    ):
        workdir = Path(tmp)

        def start(i: int) -> Future[tuple[Path, str]] | None:
            if i >= len(todo):
                return None
            into = workdir / f"input-{i}"  # its own folder: two S3 keys may share a name
            into.mkdir()
            return prefetch.submit(_fetch_and_hash, todo[i], into)

        ahead = start(0)
        for i, cand in enumerate(todo):
            assert ahead is not None
            path, sha = ahead.result()
            ahead = start(i + 1)
            try:
                outcome = FileOutcome(
                    cand.rel, sha, cand.size, cand.version_ns, "", processed_at=now
                )
                known[(cand.rel, cand.size, cand.version_ns)] = sha
                if sha in seen_sha:
                    outcome.status = "duplicate"
                    outcome.reason = f"same bytes as {seen_sha[sha]}, already processed"
                    log(f"Skipped {cand.rel}: {outcome.reason}.")
                    report.outcomes.append(outcome)
                    continue
                seen_sha[sha] = cand.rel
                try:
                    _ingest_one(spec, path, outcome, table_dir, workdir, limit)
                except BadFile as exc:
                    outcome.status = "quarantined"
                    outcome.reason = str(exc)
                    log(f"Quarantined {cand.rel}: {exc}.")
                    quarantine_file(
                        path, sha, str(exc), spec.name, quarantine_dir, copy=True, label=cand.rel
                    )
                report.outcomes.append(outcome)
            finally:
                if not cand.local:
                    path.unlink(missing_ok=True)  # a fetched copy: keep the workdir small
    if report.outcomes:
        new = pl.DataFrame([asdict(o) for o in report.outcomes], schema=LEDGER_SCHEMA)
        merged = pl.concat([ledger, new]).unique(subset=["path", "sha256", "status"], keep="last")
        ledger_path.parent.mkdir(parents=True, exist_ok=True)
        sink_parquet_atomic(merged.sort("processed_at", "path"), ledger_path)
    report.seconds = time.perf_counter() - started
    return report


def table_parts(table_dir: LakePath) -> list[LakePath]:
    return sorted(table_dir.glob("part-*.parquet"))  # type: ignore[type-var]  # one kind each


def scan_table(table_dir: LakePath) -> pl.LazyFrame:
    """All parts of a lake table, schemas unioned by name."""
    parts = table_parts(table_dir)
    if not parts:
        raise FileNotFoundError(f"no lake table at {table_dir}")
    return scan_parts(parts)


def outcomes_frame(report: IngestReport, limit: int = 50) -> pl.DataFrame:
    """The first ``limit`` inputs of a pass with their status, for the asset's metadata."""
    return pl.DataFrame(
        [
            {
                "file": o.path,
                "status": o.status,
                "format": o.format,
                "encoding": o.encoding,
                "rows": o.rows,
                "reason": o.reason,
            }
            for o in report.outcomes[:limit]
        ]
    )
