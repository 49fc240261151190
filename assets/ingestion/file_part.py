"""One landing file as one lake part: read, conformed to the contract, written, and checked.

A file is bad (BadFile, with a one-sentence reason) for what its bytes hold; any other error,
such as a full disk, propagates, since it is not the file's.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from assets.core.reader_base import BadFile, Budget, environment_cause
from assets.core.readers import detect_format, read_landing_file
from assets.core.spec import DatasetSpec
from assets.core.storage import LakePath, scan_parquet, sink_parquet_atomic
from assets.ingestion.conform import conform
from assets.ingestion.ledger import FileOutcome

LINEAGE_TEXT = ("_source_file", "_file_sha256")  # written by ingestion, not read from the file


def parse_failure(fmt: str, exc: Exception) -> str:
    """One sentence for a file the engine could not parse, without echoing its content."""
    text = str(exc)
    if "not properly escaped" in text:
        return f"unparseable {fmt}: an unterminated or unescaped quote"
    if "found more fields than defined" in text or "ragged" in text:
        return f"unparseable {fmt}: rows have more fields than the header"
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"unparseable {fmt}: {first[:200]}"


def text_with_nul(part: LakePath, columns: list[str]) -> str | None:
    """Where the part's first text value holding a NUL byte is, if one does."""
    found = (
        scan_parquet(part)
        .filter(pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in columns))
        .select("_row_number", *columns)
        .head(1)
        .collect()
    )
    if found.is_empty():
        return None
    row = found.row(0, named=True)
    column = next(c for c in columns if row[c] is not None and "\x00" in row[c])
    return f"column {column!r}, row {row['_row_number']:,}"


def ingest_file(
    spec: DatasetSpec,
    path: Path,
    outcome: FileOutcome,
    table_dir: LakePath,
    workdir: Path,
    limit: int,
    *,
    nul_byte: bool = True,
) -> None:
    """Read, conform and write one file as a lake part; raise BadFile with a reason if it is bad.

    Any other error is not the file's: it propagates (a full disk is never a bad file).
    ``nul_byte`` says whether the file's bytes hold a NUL (seen while hashing): in a CSV, text
    whose encodings are all ASCII-compatible, no NUL byte means no text value holds one, so
    its values need no search.
    """
    if outcome.size == 0:
        raise BadFile("zero-byte file")
    if outcome.size > limit:
        raise BadFile(f"{outcome.size:,} bytes is over the {limit:,}-byte limit for one file")
    with path.open("rb") as fh:
        head = fh.read(64)
    fmt = detect_format(Path(outcome.path), head)
    part = table_dir / f"part-{outcome.sha256[:16]}.parquet"
    try:
        lf, info = read_landing_file(
            path,
            fmt,
            workdir,
            [c.name for c in spec.columns],
            max_bytes=limit,
            budget=Budget(outcome.size),
        )
        conformed = conform(lf, spec, source_file=outcome.path, file_sha256=outcome.sha256)
        sink_parquet_atomic(conformed, part)
    except pl.exceptions.PolarsError as exc:
        if environment_cause(exc) is not None:
            raise
        raise BadFile(parse_failure(fmt, exc)) from None
    # XML cannot hold a NUL (expat refuses it); JSON can escape one, compression hide one.
    search = nul_byte if fmt == "csv" else fmt != "xml"
    texts = [
        c
        for c, t in scan_parquet(part).collect_schema().items()
        if search and t == pl.String and c not in LINEAGE_TEXT
    ]
    nul = (
        pl.any_horizontal(pl.col(c).str.contains("\x00", literal=True) for c in texts).any()
        if texts
        else pl.lit(False)
    )
    counts = (
        scan_parquet(part)
        .select(
            pl.len().alias("rows"),
            pl.col("_ingest_errors").is_not_null().sum().alias("flagged"),
            nul.alias("nul"),
        )
        .collect()
    )
    if counts["rows"][0] == 0:
        part.unlink()
        raise BadFile("no data rows")
    if counts["nul"][0]:
        where = text_with_nul(part, texts)
        part.unlink()
        raise BadFile(
            f"a text value holds a NUL byte ({where}): NUL is not text, and PostgreSQL "
            "cannot store it"
        )
    outcome.status = "ingested"
    outcome.format = info.get("format", fmt)
    outcome.encoding = info.get("encoding", "")
    outcome.rows = int(counts["rows"][0])
    outcome.flagged_rows = int(counts["flagged"][0])
    outcome.part = part.name
