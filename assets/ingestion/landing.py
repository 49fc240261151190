"""One ingestion pass over a landing folder: new files in, typed Parquet parts out, nothing lost.

A file is identified by the SHA-256 of its bytes and recorded in a ledger (Parquet, replaced
atomically) that survives restarts. Good files become one lake part each, named by their hash, so a
crash between the part and the ledger write only repeats an idempotent write. Bad files are copied
to quarantine with a JSON sidecar. Input files are only ever read.

Only the file is ever blamed. A fault of the machine (a full disk or temp folder, no memory, no
permission) fails the pass with EnvironmentFault after recording what was finished, and the file
it hit is not recorded, so the retry reads it again. A landing file is read once it has settled
(unchanged for ``settle_seconds``), through the descriptor opened for the very file that was
listed; one still being written, or replaced since the listing, waits for the next run. A file
whose bytes change after they were ingested is refused, not ingested a second time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from assets.core.reader_base import BadFile, EnvironmentFault, environment_cause
from assets.core.scratch import clean_stale_temp_files, scratch_folder
from assets.core.spec import DatasetSpec
from assets.core.storage import SCHEMA_PART, LakePath, scan_parts, sink_parquet_atomic
from assets.ingestion.candidates import (
    Candidate,
    Deferred,
    Opened,
    local_candidates,
    open_and_hash,
)
from assets.ingestion.conform import empty_table
from assets.ingestion.file_part import ingest_file
from assets.ingestion.ledger import (
    LEDGER_SCHEMA,
    FileOutcome,
    load_ledger,
    machine_fault_verdicts,
    quarantine_file,
    save_ledger,
    sha256_file,
)

__all__ = ["LEDGER_SCHEMA", "FileOutcome", "load_ledger", "quarantine_file", "sha256_file"]

SETTLE_SECONDS = 3.0  # a landing file unchanged this long is taken as fully written


@dataclass
class IngestReport:
    entity: str
    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0
    waiting: int = 0  # new inputs left for the next run by ``max_new``
    deferred: list[tuple[str, str]] = field(default_factory=list)  # (input, why) for next run

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


def ingest_landing_folder(
    spec: DatasetSpec,
    *,
    landing_root: Path,
    table_dir: LakePath,
    ledger_path: LakePath,
    quarantine_dir: Path,
    max_file_bytes: int | None = None,
    settle_seconds: float = SETTLE_SECONDS,
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
        settle_seconds=settle_seconds,
        log=log,
    )


@dataclass
class _Pass:
    """One pass's state: what the ledger knew, and what this pass has done."""

    spec: DatasetSpec
    table_dir: LakePath
    quarantine_dir: Path
    limit: int
    log: Callable[[str], None]
    report: IngestReport
    seen_sha: dict[str, str]  # hash -> the input it was first seen as (refusals aside)
    ingested: dict[str, str]  # input -> the hash of its bytes that were ingested
    known: set[tuple[str, int, int]]  # (input, size, version) already processed
    refused_paths: set[str]  # inputs refused before (not logged again)
    now: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def defer(self, rel: str, why: str) -> None:
        self.log(f"Left {rel} for the next run: {why}.")
        self.report.deferred.append((rel, why))

    def one(self, cand: Candidate, opened: Opened, workdir: Path) -> None:
        sha = opened.sha
        outcome = FileOutcome(cand.rel, sha, cand.size, cand.version_ns, "", processed_at=self.now)
        if sha in self.seen_sha:
            outcome.status = "duplicate"
            outcome.reason = f"same bytes as {self.seen_sha[sha]}, already processed"
            self.log(f"Skipped {cand.rel}: {outcome.reason}.")
            self.report.outcomes.append(outcome)
            return
        earlier = self.ingested.get(cand.rel)
        if earlier is not None:
            outcome.status = "refused"
            outcome.reason = (
                f"its bytes changed after earlier bytes (sha256 {earlier[:16]}) were ingested "
                "under this name; the new bytes are in quarantine, land new data under a new name"
            )
        else:
            try:
                ingest_file(
                    self.spec,
                    opened.path,
                    outcome,
                    self.table_dir,
                    workdir,
                    self.limit,
                    nul_byte=opened.nul_byte,
                )
            except BadFile as exc:
                if environment_cause(exc) is not None:  # a verdict raised from a machine fault
                    raise
                outcome.status = "quarantined"
                outcome.reason = str(exc)
            if not opened.unchanged(cand):  # a write during the read: neither verdict holds
                if outcome.part:
                    (self.table_dir / outcome.part).unlink(missing_ok=True)
                raise Deferred("it changed while it was being read")
        if outcome.status != "ingested":
            self.log(f"{outcome.status.capitalize()} {cand.rel}: {outcome.reason}.")
            quarantine_file(
                opened.path,
                sha,
                outcome.reason,
                self.spec.name,
                self.quarantine_dir,
                copy=True,
                label=cand.rel,
            )
        if outcome.status != "refused":
            self.seen_sha[sha] = cand.rel
        self.report.outcomes.append(outcome)


def ingest_candidates(
    spec: DatasetSpec,
    candidates: Iterable[Candidate],
    *,
    table_dir: LakePath,
    ledger_path: LakePath,
    quarantine_dir: Path,
    refused: Iterable[tuple[str, Path, str]] = (),
    max_file_bytes: int | None = None,
    settle_seconds: float = SETTLE_SECONDS,
    log: Callable[[str], None] = lambda _m: None,
    max_new: int | None = None,
) -> IngestReport:
    """Ingest every candidate not already in the ledger; the same bytes twice are a duplicate.

    ``max_new`` caps how many new candidates this call reads (in name order); the rest are
    counted in ``report.waiting`` and picked up by the next call, since the ledger skips the
    ones already done. Raises EnvironmentFault (after saving the ledger of what was finished)
    when the machine fails; see the module docstring.
    """
    started = time.perf_counter()
    report = IngestReport(spec.name)
    ledger = load_ledger(ledger_path)
    retry = machine_fault_verdicts(ledger)
    for row in retry.iter_rows(named=True):
        log(
            f"Reading {row['path']} again: its quarantine ({row['reason']}) was a fault of "
            "the machine, not of the file."
        )
    if not retry.is_empty():
        ledger = ledger.join(
            retry.select("path", "sha256", "status"), on=["path", "sha256", "status"], how="anti"
        )
    rows = list(ledger.iter_rows(named=True))
    run = _Pass(
        spec,
        table_dir,
        quarantine_dir,
        max_file_bytes or spec.max_file_bytes,
        log,
        report,
        seen_sha={r["sha256"]: r["path"] for r in rows if r["status"] != "refused"},
        ingested={r["path"]: r["sha256"] for r in rows if r["status"] == "ingested"},
        known={(r["path"], r["size"], r["mtime_ns"]) for r in rows},
        refused_paths={r["path"] for r in rows if r["status"] == "refused"},
    )
    try:
        todo = _start(run, candidates, refused, ledger_path, max_new, settle_seconds)
        _read_all(run, todo, settle_seconds)
    except Exception as exc:
        cause = environment_cause(exc)
        if report.outcomes:
            with contextlib.suppress(Exception):  # the fault itself may stop this write too
                save_ledger(ledger, report.outcomes, ledger_path)
        if cause is None:
            raise
        raise EnvironmentFault(f"{spec.name}: {cause}") from exc
    if report.outcomes:
        save_ledger(ledger, report.outcomes, ledger_path)
    report.seconds = time.perf_counter() - started
    return report


def _start(
    run: _Pass,
    candidates: Iterable[Candidate],
    refused: Iterable[tuple[str, Path, str]],
    ledger_path: LakePath,
    max_new: int | None,
    settle_s: float,
) -> list[Candidate]:
    """Record the new refusals, clear what killed writes left, make sure the table has its
    schema part; the candidates to read, settled ones first."""
    spec, report = run.spec, run.report
    for rel, path, why in refused:
        if rel in run.refused_paths:
            continue
        run.log(f"Refused {rel}: {why}.")
        quarantine_file(path, "0" * 64, f"refused: {why}", spec.name, run.quarantine_dir, False)
        report.outcomes.append(
            FileOutcome(rel, "", 0, 0, "refused", reason=why, processed_at=run.now)
        )
    for folder in (run.table_dir, ledger_path.parent, run.quarantine_dir):
        if isinstance(folder, Path):
            for stale in clean_stale_temp_files(folder):
                run.log(f"Removed {stale}: the temp file of a write that was killed.")
    run.table_dir.mkdir(parents=True, exist_ok=True)
    schema_part = run.table_dir / SCHEMA_PART
    if not schema_part.exists():
        sink_parquet_atomic(empty_table(spec), schema_part)
    todo: list[Candidate] = []
    for cand in candidates:
        if (cand.rel, cand.size, cand.version_ns) in run.known:
            continue  # already processed, unchanged: no need to fetch or hash it again
        if max_new is not None and len(todo) >= max_new:
            report.waiting += 1
            continue
        todo.append(cand)
    # Files still settling go last, so their wait overlaps the reading of the others.
    fresh_after = time.time_ns() - int(settle_s * 1e9)
    return sorted(todo, key=lambda c: c.landed is not None and c.version_ns > fresh_after)


def _read_all(run: _Pass, todo: list[Candidate], settle_s: float) -> None:
    """Read the inputs in order. The next one is opened and hashed on a second thread while
    this one is read: hashing (and an S3 download) is one core of plain Python I/O that the
    Polars work leaves free. Each input's temp files go with it."""
    name = run.spec.name
    with (
        scratch_folder(f"ingest-{name}-") as workdir,
        ThreadPoolExecutor(1, thread_name_prefix=f"prefetch-{name}") as prefetch,
    ):

        def start(i: int) -> Future[Opened] | None:
            if i >= len(todo):
                return None
            into = workdir / f"input-{i}"  # its own folder: two S3 keys may share a name
            into.mkdir()
            return prefetch.submit(open_and_hash, todo[i], into, settle_s)

        ahead = start(0)
        try:
            for i, cand in enumerate(todo):
                assert ahead is not None
                current, ahead = ahead, start(i + 1)
                _read_one(run, cand, current, workdir / f"input-{i}")
        finally:
            if ahead is not None:  # stopped early: close what the prefetch opened
                with contextlib.suppress(Exception):
                    if (fd := ahead.result().fd) is not None:
                        os.close(fd)


def _read_one(run: _Pass, cand: Candidate, opening: Future[Opened], into: Path) -> None:
    opened: Opened | None = None
    try:
        opened = opening.result()
        run.one(cand, opened, into)
    except Deferred as exc:
        run.defer(cand.rel, str(exc))
    except Exception as exc:
        cause = environment_cause(exc)
        if cause is not None:
            raise EnvironmentFault(f"reading {cand.rel}: {cause}") from exc
        raise
    finally:
        if opened is not None and opened.fd is not None:
            os.close(opened.fd)
        shutil.rmtree(into, ignore_errors=True)  # the input's copy and temp files


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
