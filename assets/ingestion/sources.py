"""Pulls from the non-file sources (PostgreSQL, REST APIs) into the landing path, and the inputs
one run of a raw asset looks at, whatever its source.

Each pull becomes a local file (CSV from a streaming ``COPY``, Parquet from API pages) that goes
through exactly the same ingestion as a landing file: hashed, conformed to the contract, written
as one lake part, recorded in the ledger. An incremental pull asks for rows above the watermark,
which is read back from the lake itself (the largest value among rows from this source), so a
crash between writing a part and anything else can never skip or repeat rows.

The clients are small protocols (the resources satisfy them), so this module loads no Dagster.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import polars as pl
from psycopg import sql

from assets.core.frames import as_json_text, is_nested
from assets.core.http import ApiError, CircuitOpenError, MalformedResponseError, Pagination
from assets.core.pg import qualified
from assets.core.s3 import is_s3_uri, split_s3_uri
from assets.core.spec import DatasetSpec
from assets.core.storage import LakePath, atomic_write_bytes, scan_parquet
from assets.ingestion.candidates import Candidate, ObjectStore, local_candidates, s3_candidates
from assets.ingestion.landing import quarantine_file, sha256_file, table_parts

Refused = list[tuple[str, Path, str]]


class CsvExporter(Protocol):
    """What a PostgreSQL pull needs (the ``postgres`` resource is one)."""

    def copy_to_csv(
        self, query: sql.Composable, params: Sequence[Any] | Mapping[str, Any] | None, dest: Path
    ) -> int: ...


class PagedApi(Protocol):
    """What an API pull needs (the ``api`` resource and ``assets.core.http.ApiClient`` are)."""

    def iter_pages(
        self,
        path: str,
        *,
        records_path: str | None,
        pagination: Pagination,
        params: dict[str, Any] | None,
        page_size: int,
        next_cursor_path: str,
    ) -> Iterable[list[dict[str, Any]]]: ...


class SourcePullError(Exception):
    """A pull that returned bad data; the bad payload was quarantined (do not retry)."""


def source_label(spec: DatasetSpec) -> str:
    """The prefix of ``_source_file`` (and of ledger entries) for rows pulled from this source."""
    src = spec.source
    if src.kind == "postgres":
        return f"postgres/{src.table or 'query'}"
    if src.kind == "api":
        return "api/" + (src.endpoint or "").strip("/")
    return src.folder or spec.name


def lake_watermark(table_dir: LakePath, spec: DatasetSpec) -> Any | None:
    """The largest watermark value already in the lake among rows pulled from this source."""
    column = spec.source.watermark_column
    parts = table_parts(table_dir)
    if not column or not parts:
        return None
    label = source_label(spec) + "/"
    lf = pl.concat([scan_parquet(p) for p in parts], how="diagonal_relaxed")
    return (
        lf.filter(pl.col("_source_file").str.starts_with(label))
        .select(pl.col(column).max())
        .collect()
        .item()
    )


def postgres_pull_query(spec: DatasetSpec, watermark: Any | None) -> tuple[sql.Composed, list]:
    """The pull as composed SQL plus bound parameters; nothing from data enters the SQL text."""
    src = spec.source
    if src.table:
        base: sql.Composable = sql.SQL("SELECT * FROM {}").format(qualified(src.table))
    else:
        # The query is part of the reviewed dataset spec (configuration, like code), never data.
        base = sql.SQL(src.query or "")  # type: ignore[arg-type]
    if not src.watermark_column:
        return sql.SQL("SELECT * FROM ({}) AS src").format(base), []
    col = sql.Identifier(src.watermark_column)
    if watermark is None:
        return sql.SQL("SELECT * FROM ({}) AS src ORDER BY {}").format(base, col), []
    return (
        sql.SQL("SELECT * FROM ({}) AS src WHERE {} > %s ORDER BY {}").format(base, col, col),
        [watermark],
    )


def _has_data_rows(csv_path: Path) -> bool:
    with csv_path.open("rb") as fh:
        fh.readline()  # the header
        return bool(fh.read(1))


def _pull_name(label: str, suffix: str) -> str:
    return f"{label}/{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}.{suffix}"


def pull_postgres(
    spec: DatasetSpec, pg: CsvExporter, workdir: Path, watermark: Any | None
) -> Candidate | None:
    """Stream the (incremental) query to a CSV file; None when there are no new rows."""
    query, params = postgres_pull_query(spec, watermark)
    dest = workdir / "postgres-pull.csv"
    pg.copy_to_csv(query, params, dest)
    if not _has_data_rows(dest):
        return None
    return Candidate(
        rel=_pull_name(source_label(spec), "csv"),
        size=dest.stat().st_size,
        version_ns=time.time_ns(),
        fetch=lambda _w: dest,
    )


def _as_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Every column as text (nested values as JSON), so pages with drifting types still stack."""
    return frame.select(
        as_json_text(n, t) if is_nested(t) else pl.col(n).cast(pl.String)
        for n, t in frame.schema.items()
    )


def records_frame(records: list[dict[str, Any]], field_map: dict[str, str]) -> pl.DataFrame:
    """One page of JSON records as an all-text frame, with mapped fields renamed to columns.

    ``field_map`` is ``{column: "dotted.path"}``; nested objects are flattened with dots first.
    """
    frame = pl.json_normalize(records, separator=".", infer_schema_length=None)
    frame = _as_text(frame)
    renames = {path: col for col, path in field_map.items() if path in frame.columns}
    missing = [col for col, path in field_map.items() if path not in frame.columns]
    frame = frame.rename(renames)
    if missing:
        frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing)
    return frame


def pull_api(
    spec: DatasetSpec,
    api: PagedApi,
    workdir: Path,
    watermark: Any | None,
    *,
    quarantine_dir: Path,
    log: Callable[[str], None] = lambda _m: None,
) -> Candidate | None:
    """Page through the endpoint to one Parquet file; None when it returned no records.

    A page that is not the JSON expected is quarantined with its reason and the pull fails as a
    whole: no page of a broken pull reaches the lake, and the watermark does not move.
    """
    src = spec.source
    params: dict[str, Any] = dict(src.params)
    if src.watermark_param and watermark is not None:
        params[src.watermark_param] = (
            watermark.isoformat() if hasattr(watermark, "isoformat") else watermark
        )
    chunks: list[Path] = []
    pages = api.iter_pages(
        src.endpoint or "",
        records_path=src.records_path,
        pagination=src.pagination,
        params=params,
        page_size=src.page_size,
        next_cursor_path=src.next_cursor_path,
    )
    try:
        for number, records in enumerate(pages, start=1):
            chunk = workdir / f"page-{number:06d}.parquet"
            records_frame(records, src.field_map).write_parquet(chunk)
            chunks.append(chunk)
            if number % 50 == 0:
                log(f"{spec.name}: {number} pages read from {src.endpoint}.")
    except MalformedResponseError as exc:
        body = workdir / "malformed-response.txt"
        atomic_write_bytes(body, exc.body)
        sha = sha256_file(body)
        reason = str(exc)
        quarantine_file(
            body, sha, reason, spec.name, quarantine_dir, copy=True, label=source_label(spec)
        )
        raise SourcePullError(f"{reason}; the response was quarantined") from None
    if not chunks:
        return None
    dest = workdir / "api-pull.parquet"
    pl.concat([pl.scan_parquet(c) for c in chunks], how="diagonal_relaxed").sink_parquet(dest)
    return Candidate(
        rel=_pull_name(source_label(spec), "parquet"),
        size=dest.stat().st_size,
        version_ns=time.time_ns(),
        fetch=lambda _w: dest,
    )


def permanent_failure(exc: Exception) -> bool:
    """A failed pull that retrying the step would not fix: bad data, an open circuit, or a client
    error other than 429."""
    if isinstance(exc, SourcePullError | CircuitOpenError):
        return True
    return (
        isinstance(exc, ApiError)
        and not exc.retryable
        and exc.status is not None
        and exc.status < 500
        and exc.status != 429
    )


def source_candidates(
    spec: DatasetSpec,
    *,
    files_dir: LakePath,
    landing_root: str,
    quarantine_dir: Path,
    workdir: Path,
    s3: ObjectStore | None = None,
    pg: CsvExporter | None = None,
    api: PagedApi | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> tuple[list[Candidate], Refused]:
    """What one run should look at: landing files, S3 objects, or one fresh pull (none when the
    source has no new rows), and the landing entries refused. ``files_dir`` holds the dataset's
    ingested parts, where the watermark is read."""
    kind = spec.source.kind
    if kind == "landing":
        if is_s3_uri(landing_root):
            assert s3 is not None
            bucket, prefix = split_s3_uri(landing_root)
            return s3_candidates(s3, bucket, prefix, spec.landing_folder), []
        return local_candidates(Path(landing_root), spec.landing_folder)
    watermark = lake_watermark(files_dir, spec)
    if watermark is not None:
        log(f"Pulling {spec.name} rows with {spec.source.watermark_column} > {watermark}.")
    if kind == "postgres":
        assert pg is not None
        pulled = pull_postgres(spec, pg, workdir, watermark)
    else:
        assert api is not None
        pulled = pull_api(spec, api, workdir, watermark, quarantine_dir=quarantine_dir, log=log)
    if pulled is None:
        log(f"No new rows for {spec.name} from {source_label(spec)}.")
        return [], []
    return [pulled], []
