"""Micro-batches of stream entries into the lake, with the contract, quarantine and lineage of
files, exactly once.

A batch is conformed exactly as an NDJSON file would be (``conform``), with three lineage
columns more: ``_stream``, ``_entry_id`` and ``_arrived_at``. It is written as one part named
after its first and last entry id, atomically, and only then acknowledged: a crash before the
acknowledgement re-delivers the batch, which replaces its own part; entries already in another
part (a re-delivery cut differently) are dropped, read from the lake itself. A poison entry (not
JSON, not an object, too big) is quarantined with its reason and id and acknowledged with its
batch, so it never blocks the stream.

The broker is a small protocol (``redis_backend`` and ``kafka_backend`` satisfy it); no Dagster.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

import polars as pl

from assets.core.spec import DatasetSpec
from assets.core.storage import LakePath, atomic_write_bytes, scan_parquet, sink_parquet_atomic
from assets.ingestion.conform import conform
from assets.ingestion.sources import records_frame

PART_PREFIX = "part-stream-"
LINEAGE = ("_stream", "_entry_id", "_arrived_at")
_ID = re.compile(r"^\d+-\d+$")


@dataclass(frozen=True)
class StreamEntry:
    """One entry as the broker delivered it: ``id`` is ``<int>-<int>`` (a Redis entry id, or a
    Kafka ``partition-offset``), ``payload`` the message bytes (None when the entry has none)."""

    id: str
    payload: bytes | None
    arrived_at: datetime


@dataclass(frozen=True)
class StreamLag:
    """What waits in the stream for a dataset's group: entries never delivered, entries delivered
    and not acknowledged, the arrival of the oldest undelivered one, and the newest id."""

    waiting: int
    pending: int
    oldest_waiting_at: datetime | None
    first_id: str | None
    last_id: str | None

    @property
    def total(self) -> int:
        return self.waiting + self.pending


class StreamBackend(Protocol):
    """A consumer group on one stream: read a batch (entries re-delivered first), acknowledge
    it, and say what waits."""

    stream: str

    def read(self, count: int) -> list[StreamEntry]: ...

    def ack(self, ids: Sequence[str]) -> None: ...

    def lag(self) -> StreamLag: ...


def id_key(entry_id: str) -> tuple[int, int]:
    """An entry id as a sortable pair."""
    if not _ID.match(entry_id):
        raise ValueError(f"not a stream entry id: {entry_id!r}")
    left, right = entry_id.split("-")
    return int(left), int(right)


def part_name(first: str, last: str) -> str:
    return f"{PART_PREFIX}{first}_{last}.parquet"


def part_range(name: str) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """The (first, last) entry ids a stream part holds, from its name; None for other parts."""
    if not name.startswith(PART_PREFIX) or not name.endswith(".parquet"):
        return None
    first, _, last = name[len(PART_PREFIX) : -len(".parquet")].partition("_")
    try:
        return id_key(first), id_key(last)
    except ValueError:
        return None


@dataclass
class BatchReport:
    """What one batch did: its id range, rows landed, poison entries, entries already in the
    lake, and the ids to acknowledge (all of them, once the part is written)."""

    first: str
    last: str
    rows: int = 0
    flagged_rows: int = 0
    part: str | None = None
    poison: list[tuple[str, str]] = field(default_factory=list)  # (entry id, reason)
    already_landed: int = 0
    ids: list[str] = field(default_factory=list)


def poison_reason(payload: bytes | None, spec: DatasetSpec) -> str | dict:
    """The parsed object of a good entry, or why the entry is poison (one sentence)."""
    src = spec.source
    if payload is None:
        return f"no {src.message_field!r} field in the entry"
    if len(payload) > src.max_message_bytes:
        return f"oversize: {len(payload):,} bytes is over the {src.max_message_bytes:,}-byte limit"
    try:
        value = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return f"not JSON: {exc}"[:300]
    if not isinstance(value, dict):
        return f"wrong shape: a JSON {type(value).__name__}, not an object"
    known = set(spec.column_map) | set(src.field_map)
    if not known.intersection(value):
        return "wrong shape: an object with none of the contract's columns"
    return value


def landed_ids(table_dir: LakePath, first: str, last: str, own: str) -> set[str]:
    """Entry ids between ``first`` and ``last`` already in other stream parts of the table."""
    lo, hi = id_key(first), id_key(last)
    overlapping = [
        p
        for p in table_dir.glob(f"{PART_PREFIX}*.parquet")
        if p.name != own and (r := part_range(p.name)) is not None and r[0] <= hi and r[1] >= lo
    ]
    if not overlapping:
        return set()
    frames = [scan_parquet(p).select("_entry_id") for p in overlapping]
    return set(pl.concat(frames).collect()["_entry_id"].to_list())


def quarantine_entry(
    entry: StreamEntry, reason: str, spec: DatasetSpec, stream: str, qdir: Path
) -> None:
    """The entry's bytes and a JSON sidecar with its reason, named by its id (a re-delivered
    entry replaces its own)."""
    base = qdir / f"stream-{entry.id}"
    atomic_write_bytes(base.with_name(base.name + ".bin"), entry.payload or b"")
    sidecar = {
        "entity": spec.name,
        "stream": stream,
        "entry_id": entry.id,
        "reason": reason,
        "bytes": len(entry.payload or b""),
        "arrived_at": entry.arrived_at.isoformat(),
        "quarantined_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    atomic_write_bytes(base.with_name(base.name + ".json"), json.dumps(sidecar).encode())


def batch_frame(
    spec: DatasetSpec, stream: str, entries: list[StreamEntry], records: list[dict], label: str
) -> pl.LazyFrame:
    """Good entries conformed to the contract, with their lineage columns."""
    frame = records_frame(records, spec.source.field_map)
    # A batch whose objects all lack a column still lands: the rows are flagged by validation
    # (a missing required value), as they would be one at a time.
    missing = [c.name for c in spec.file_columns if c.name not in frame.columns]
    frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
    digest = hashlib.sha256("\n".join(e.id for e in entries).encode()).hexdigest()
    typed = conform(frame.lazy(), spec, source_file=label, file_sha256=digest)
    lineage = pl.DataFrame(
        {
            "_stream": [stream] * len(entries),
            "_entry_id": [e.id for e in entries],
            "_arrived_at": [e.arrived_at.replace(tzinfo=None) for e in entries],
        },
        schema={"_stream": pl.String, "_entry_id": pl.String, "_arrived_at": pl.Datetime("us")},
    )
    return pl.concat([typed, lineage.lazy()], how="horizontal")


def land_batch(
    spec: DatasetSpec,
    stream: str,
    entries: list[StreamEntry],
    *,
    table_dir: LakePath,
    quarantine_dir: Path,
) -> BatchReport:
    """Quarantine the poison entries and write the others as the batch's part (atomically)."""
    # Kafka interleaves partitions, so the range is the smallest and largest id, not the ends.
    ordered = sorted((e.id for e in entries), key=id_key)
    first, last = ordered[0], ordered[-1]
    report = BatchReport(first=first, last=last, ids=[e.id for e in entries])
    name = part_name(first, last)
    seen = landed_ids(table_dir, first, last, name)
    good: list[StreamEntry] = []
    records: list[dict] = []
    for entry in entries:
        if entry.id in seen:
            report.already_landed += 1
            continue
        parsed = poison_reason(entry.payload, spec)
        if isinstance(parsed, str):
            quarantine_entry(entry, parsed, spec, stream, quarantine_dir)
            report.poison.append((entry.id, parsed))
        else:
            good.append(entry)
            records.append(parsed)
    if not good:
        return report
    frame = batch_frame(spec, stream, good, records, f"stream/{stream}/{first}_{last}")
    part = table_dir / name
    sink_parquet_atomic(frame, part)
    counts = scan_parquet(part).select(
        pl.len().alias("rows"), pl.col("_ingest_errors").is_not_null().sum().alias("flagged")
    )
    row = counts.collect().row(0)
    report.rows, report.flagged_rows, report.part = int(row[0]), int(row[1]), name
    return report


@dataclass
class DrainReport:
    batches: list[BatchReport] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rows(self) -> int:
        return sum(b.rows for b in self.batches)

    @property
    def entries(self) -> int:
        return sum(len(b.ids) for b in self.batches)

    @property
    def poison(self) -> list[tuple[str, str]]:
        return [p for b in self.batches for p in b.poison]


def drain(
    spec: DatasetSpec,
    backend: StreamBackend,
    *,
    table_dir: LakePath,
    quarantine_dir: Path,
    max_events: int,
    batch_events: int,
    after_write: Callable[[BatchReport], None] = lambda _b: None,
    log: Callable[[str], None] = lambda _m: None,
) -> DrainReport:
    """Read, land and acknowledge batches until the stream is drained or ``max_events`` read.

    ``after_write`` runs between the lake write and the acknowledgement (tests crash there).
    """
    started = time.perf_counter()
    out = DrainReport()
    while out.entries < max_events:
        entries = backend.read(min(batch_events, max_events - out.entries))
        if not entries:
            break
        report = land_batch(
            spec, backend.stream, entries, table_dir=table_dir, quarantine_dir=quarantine_dir
        )
        after_write(report)
        backend.ack(report.ids)
        out.batches.append(report)
        log(
            f"{spec.name}: entries {report.first}..{report.last}: {report.rows:,} rows landed, "
            f"{len(report.poison):,} quarantined, {report.already_landed:,} already in the lake."
        )
        # Stop as soon as nothing waits, rather than wait out one more empty read (a Kafka read
        # waits for its first message).
        if backend.lag().total == 0:
            break
    out.seconds = time.perf_counter() - started
    return out
