"""Landing-file readers: detect format and encoding, and expose each file as an all-text LazyFrame.

Every reader streams or scans: gzip and non-UTF-8 text are transcoded to a temporary UTF-8 file in
fixed-size blocks, JSON goes through DuckDB's streaming reader, and XML streams through expat
(``xml_reader``) into Parquet a batch of records at a time. Nothing reads a whole file into memory.

Two kinds of failure leave a reader: ``BadFile`` (the file's fault: it is quarantined) and
anything else, such as a full disk, which is the machine's and never blamed on the file
(``reader_base.raise_if_environment`` turns those into ``EnvironmentFault`` where a reader would
otherwise catch them).
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from charset_normalizer import from_bytes
from duckdb.sqltypes import VARCHAR

from assets.core.reader_base import (
    BadFile,
    Budget,
    column_names,
    normalize_name,
    raise_if_environment,
)
from assets.core.xml_reader import read_xml_text

BLOCK = 8 * 1024 * 1024
SAMPLE = 256 * 1024
# The delimiter is chosen from this many characters and lines of the head: the choice is linear
# in them (csv.Sniffer's regular expressions are not: 261 KB of ',"x' took it 488 s).
DIALECT_HEAD = 64 * 1024
DIALECT_LINES = 50
DELIMITERS = (",", ";", "\t", "|")
FORMATS = ("csv", "csv.gz", "json", "ndjson", "parquet", "xml")


@dataclass(frozen=True)
class TextSource:
    """A file ready for the CSV/JSON/XML readers: UTF-8 path plus what was detected."""

    path: Path
    fmt: str
    encoding: str


def detect_format(path: Path, head: bytes) -> str:
    name = path.name.lower()
    if name.endswith((".csv.gz", ".tsv.gz")):
        return "csv.gz"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    if name.endswith((".ndjson", ".jsonl")):
        return "ndjson"
    if name.endswith(".xml"):
        return "xml"
    if name.endswith((".csv", ".tsv", ".txt")):
        return "csv"
    if head[:4] == b"PAR1":
        return "parquet"
    if head[:2] == b"\x1f\x8b":
        return "csv.gz"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if name.endswith(".json") or stripped[:1] in (b"[", b"{"):
        return "json" if stripped[:1] == b"[" else "ndjson"
    if stripped[:1] == b"<":
        return "xml"
    return "csv"


def detect_encoding(sample: bytes, truncated: bool = True) -> str:
    """The text encoding of ``sample``: a BOM, valid UTF-8, else charset-normalizer's best guess.

    ``truncated`` says the sample is a prefix of a longer file, so a multi-byte UTF-8 character
    may be cut at its end; for a whole file, invalid bytes at the end are not forgiven.
    """
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # Spreadsheets' "Unicode text": NUL bytes in every ASCII character, and a BOM that says
        # so. The codec reads the BOM and drops it.
        return "utf-16"
    if b"\x00" in sample:
        raise BadFile("binary content (NUL bytes), not a text file")
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if truncated and exc.start >= len(sample) - 4:  # a character cut by the sample edge
            return "utf-8"
    best = from_bytes(sample, cp_isolation=["utf_8", "cp1252", "latin_1", "iso8859_15"]).best()
    if best is None:
        raise BadFile("undecodable bytes: no text encoding fits")
    enc = best.encoding
    # cp1252 is a superset of Latin-1 for printable text; prefer it when both fit.
    return "cp1252" if enc in ("latin_1", "iso8859_15", "cp1252") else enc


def _gunzip_head(path: Path, n: int) -> bytes:
    try:
        with gzip.open(path, "rb") as fh:
            return fh.read(n)
    except (OSError, EOFError, zlib.error) as exc:
        raise_if_environment(exc)
        raise BadFile(f"not a readable gzip file: {exc}") from None


def prepare_text(
    path: Path,
    fmt: str,
    workdir: Path,
    *,
    max_bytes: int | None = None,
    budget: Budget | None = None,
) -> TextSource:
    """Return a UTF-8 (no BOM) file with the same text, transcoding or gunzipping when needed.

    Gunzipped text stops at ``max_bytes`` (the limit for one file applies to what a compressed
    file inflates to, checked block by block, so a gzip bomb never fills the temp folder). Only
    reading the input can make the file bad; a failed write to the temp folder is the machine's.
    """
    gz = fmt == "csv.gz"
    if gz:
        sample = _gunzip_head(path, SAMPLE)
    else:
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE)
    if not sample.strip():
        raise BadFile("no content: the file is empty or only whitespace")
    encoding = detect_encoding(sample, truncated=len(sample) >= SAMPLE)
    if encoding == "utf-8" and not gz:
        return TextSource(path, fmt, encoding)
    out = workdir / (path.name + ".utf8")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    inflated = 0
    with gzip.open(path, "rb") if gz else path.open("rb") as src, out.open("wb") as dst:
        while True:
            try:
                block = src.read(BLOCK)
            except (OSError, EOFError, zlib.error) as exc:
                raise_if_environment(exc)
                raise BadFile(f"truncated or corrupt compressed data: {exc}") from None
            inflated += len(block)
            if gz and max_bytes is not None and inflated > max_bytes:
                raise BadFile(
                    f"it inflates to over {max_bytes:,} bytes, the limit for one file "
                    f"(from {path.stat().st_size:,} compressed bytes)"
                )
            try:
                text = decoder.decode(block, final=not block)
            except UnicodeDecodeError as exc:
                raise BadFile(
                    f"bytes invalid in the detected encoding {encoding}: {exc.reason}"
                ) from None
            dst.write(text.encode("utf-8"))
            if not block:
                break
            if budget is not None:
                budget.check("decoding the text")
    return TextSource(out, "csv" if gz else fmt, encoding)


def _complete_lines(head: str) -> str:
    """The head up to its last line break (a cut last line would skew the field counts)."""
    cut = max(head.rfind("\n"), head.rfind("\r"))
    return head[: cut + 1] if cut > 0 else head


def _csv_dialect(text_sample: str) -> tuple[str, str]:
    """The delimiter that splits the first record (the header) into the most fields that the
    following records repeat.

    Each candidate is one pass of the C ``csv`` parser over at most DIALECT_HEAD characters and
    DIALECT_LINES records (quoted fields, with their delimiters and line breaks, respected), so
    the choice costs the same on any input. A delimiter must split the first record; the one
    whose split the most records share wins, then the one giving more fields, then the order of
    DELIMITERS. A head no delimiter splits is one column: ``,``.
    """
    head = _complete_lines(text_sample[:DIALECT_HEAD])
    best: tuple[float, int] = (0.0, 1)
    chosen = ","
    for delimiter in DELIMITERS:
        reader = csv.reader(io.StringIO(head), delimiter=delimiter, quotechar='"')
        try:
            widths = [len(row) for _, row in zip(range(DIALECT_LINES), reader, strict=False)]
        except csv.Error:
            continue
        widths = [w for w in widths if w]  # blank lines
        if not widths or widths[0] < 2:
            continue
        score = (widths.count(widths[0]) / len(widths), widths[0])
        if score > best:
            best, chosen = score, delimiter
    return chosen, '"'


def read_csv_text(src: TextSource, expected: list[str]) -> tuple[pl.LazyFrame, dict[str, str]]:
    """Scan a UTF-8 CSV as all-text columns, sniffing delimiter and header."""
    with src.path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        sample = fh.read(SAMPLE)
    sample = sample.lstrip("\ufeff")
    delimiter, quote = _csv_dialect(sample)
    first = next(csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar=quote), [])
    known = set(expected)
    has_header = bool(known & {normalize_name(c) for c in first}) or len(first) != len(expected)
    if has_header:
        column_names(first, "header columns")  # a name given twice, too (Polars renames it)
    try:
        lf = pl.scan_csv(
            src.path,
            separator=delimiter,
            quote_char=quote,
            has_header=has_header,
            infer_schema=False,
            encoding="utf8",
            raise_if_empty=True,
            new_columns=None if has_header else expected,
        )
        names = lf.collect_schema().names()
    except pl.exceptions.NoDataError:
        raise BadFile("no rows: the CSV holds no data") from None
    except pl.exceptions.PolarsError as exc:
        raise_if_environment(exc)
        raise BadFile(f"unparseable csv: {_first_line(exc)}") from None
    lf = lf.rename(column_names(names, "header columns"))
    info = {
        "delimiter": delimiter,
        "header": "yes" if has_header else "no (columns taken from the spec order)",
    }
    return lf, info


# DuckDB renames a key that differs from an earlier one only in case: "ID" becomes "ID_1".
_CASE_RENAMED = re.compile(r"^(.+)_\d+$")


def _json_keys(path: Path, fmt: str) -> list[str]:
    """The distinct top-level keys of a JSON file's records, as written."""
    con = duckdb.connect()
    try:
        rows = con.sql(
            "SELECT DISTINCT unnest(json_keys(json)) FROM read_json_objects($path, format = $fmt)",
            params={"path": str(path), "fmt": fmt},
        ).fetchall()
    finally:
        con.close()
    return [r[0] for r in rows]


def read_json_text(src: TextSource, workdir: Path) -> pl.LazyFrame:
    """JSON array or NDJSON through DuckDB's streaming reader, every column as text.

    A field whose values mix kinds (R writes ``[517, "NA"]``) comes typed JSON: its strings are
    taken unquoted (``NA``, not ``"NA"``), its numbers and nested values as their JSON text.
    """
    out = workdir / (src.path.name + ".parquet")
    fmt = "array" if src.fmt == "json" else "newline_delimited"
    con = duckdb.connect()
    try:
        con.execute("SET preserve_insertion_order = true")
        rel = con.sql(
            "SELECT * FROM read_json($path, format = $fmt, records = true, "
            "sample_size = -1, maximum_object_size = 16777216)",
            params={"path": str(src.path), "fmt": fmt},
        )
        names = rel.columns
        lower = {n.lower() for n in names}
        renamed = [n for n in names if (m := _CASE_RENAMED.match(n)) and m[1].lower() in lower]
        column_names(sorted(_json_keys(src.path, fmt)) if renamed else names, "keys")
        texts = [
            (
                duckdb.FunctionExpression(
                    "json_extract_string",
                    duckdb.ColumnExpression(name),
                    duckdb.ConstantExpression("$"),
                )
                if str(kind) == "JSON"
                else duckdb.ColumnExpression(name).cast(VARCHAR)
            ).alias(name)
            for name, kind in zip(names, rel.types, strict=True)
        ]
        rel.select(*texts).write_parquet(str(out))
    except duckdb.Error as exc:
        raise_if_environment(exc)
        raise BadFile(f"malformed JSON: {_first_line(exc)}") from None
    finally:
        con.close()
    lf = pl.scan_parquet(out)
    return lf.rename(column_names(lf.collect_schema().names(), "keys"))


def read_parquet_file(path: Path, max_bytes: int | None = None) -> pl.LazyFrame:
    """A Parquet file's columns; refused when its pages inflate past ``max_bytes``."""
    try:
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
        if max_bytes is not None:
            inflated = parquet_inflated_bytes(path)
            if inflated > max_bytes:
                raise BadFile(
                    f"its pages inflate to {inflated:,} bytes, over the {max_bytes:,}-byte limit "
                    "for one file"
                )
            decoded = parquet_decoded_bytes(path, len(schema))
            if decoded > max_bytes:
                raise BadFile(
                    f"its rows would take at least {decoded:,} bytes as CSV text, over the "
                    f"{max_bytes:,}-byte limit for one file (its encodings, not its compression, "
                    "make it small)"
                )
    except BadFile:
        raise
    except Exception as exc:  # polars raises ComputeError/OSError variants for corrupt footers
        raise_if_environment(exc)
        raise BadFile(f"unreadable Parquet (truncated or corrupt): {_first_line(exc)}") from None
    return lf.rename(column_names(schema.names(), "columns"))


def parquet_inflated_bytes(path: Path) -> int:
    """The file's column chunks once decompressed, from its footer (no page is read)."""
    con = duckdb.connect()
    try:
        total = con.execute(
            "SELECT coalesce(sum(total_uncompressed_size), 0) FROM parquet_metadata(?)",
            [str(path)],
        ).fetchone()
    finally:
        con.close()
    return int(total[0]) if total else 0


def parquet_decoded_bytes(path: Path, columns: int) -> int:
    """A lower bound of the file's rows written as CSV text (a one-character value and its
    separator each), from the footer's row count: run-length and dictionary encodings keep
    a million equal values in a few bytes, which the pages' uncompressed size does not show.
    The size limit bounds what a compressed CSV inflates to; this holds a Parquet file to the
    least its rows would take as a CSV."""
    con = duckdb.connect()
    try:
        found = con.execute(
            "SELECT coalesce(sum(num_rows), 0) FROM parquet_file_metadata(?)", [str(path)]
        ).fetchone()
    finally:
        con.close()
    return (int(found[0]) if found else 0) * columns * 2


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def read_landing_file(
    path: Path,
    fmt: str,
    workdir: Path,
    expected: list[str],
    *,
    max_bytes: int | None = None,
    budget: Budget | None = None,
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """A LazyFrame over one landing file, plus what was detected about it.

    ``max_bytes`` bounds what a compressed file inflates to; ``budget`` bounds the CPU time of
    the readers' own loops (the Polars and DuckDB scans are linear and not interruptible).
    """
    if fmt == "parquet":
        return read_parquet_file(path, max_bytes), {"format": "parquet", "encoding": "binary"}
    src = prepare_text(path, fmt, workdir, max_bytes=max_bytes, budget=budget)
    info = {"format": fmt, "encoding": src.encoding}
    if src.fmt == "csv":
        lf, extra = read_csv_text(src, expected)
        info.update(extra)
        return lf, info
    if src.fmt in ("json", "ndjson"):
        return read_json_text(src, workdir), info
    if src.fmt == "xml":
        return read_xml_text(src.path, workdir, budget), info
    raise BadFile(f"unsupported format {fmt!r}")
