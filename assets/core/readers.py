"""Landing-file readers: detect format and encoding, and expose each file as an all-text LazyFrame.

Every reader streams or scans: gzip and non-UTF-8 text are transcoded to a temporary UTF-8 file in
fixed-size blocks, JSON goes through DuckDB's streaming reader, and XML streams through expat
(``xml_reader``) into Parquet a batch of records at a time. Nothing reads a whole file into memory.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import zlib
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl
from charset_normalizer import from_bytes
from duckdb.sqltypes import VARCHAR

from assets.core.reader_base import BadFile, normalize_name
from assets.core.xml_reader import read_xml_text

BLOCK = 8 * 1024 * 1024
SAMPLE = 256 * 1024
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
        raise BadFile(f"not a readable gzip file: {exc}") from None


def prepare_text(path: Path, fmt: str, workdir: Path) -> TextSource:
    """Return a UTF-8 (no BOM) file with the same text, transcoding or gunzipping when needed."""
    if fmt == "csv.gz":
        sample = _gunzip_head(path, SAMPLE)
    else:
        with path.open("rb") as fh:
            sample = fh.read(SAMPLE)
    if not sample.strip():
        raise BadFile("no content: the file is empty or only whitespace")
    encoding = detect_encoding(sample, truncated=len(sample) >= SAMPLE)
    if encoding == "utf-8" and fmt != "csv.gz":
        return TextSource(path, fmt, encoding)
    out = workdir / (path.name + ".utf8")
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    opener = gzip.open if fmt == "csv.gz" else open
    try:
        with opener(path, "rb") as src, out.open("wb") as dst:
            while block := src.read(BLOCK):
                dst.write(decoder.decode(block).encode("utf-8"))
            dst.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadFile(f"bytes invalid in the detected encoding {encoding}: {exc.reason}") from None
    except (OSError, EOFError, zlib.error) as exc:
        raise BadFile(f"truncated or corrupt compressed data: {exc}") from None
    return TextSource(out, "csv" if fmt == "csv.gz" else fmt, encoding)


def _csv_dialect(text_sample: str) -> tuple[str, str]:
    try:
        dialect = csv.Sniffer().sniff(text_sample, delimiters=",;\t|")
        return dialect.delimiter, dialect.quotechar or '"'
    except csv.Error:
        return ",", '"'


def read_csv_text(src: TextSource, expected: list[str]) -> tuple[pl.LazyFrame, dict[str, str]]:
    """Scan a UTF-8 CSV as all-text columns, sniffing delimiter and header."""
    with src.path.open("r", encoding="utf-8", errors="replace", newline="") as fh:
        sample = fh.read(SAMPLE)
    sample = sample.lstrip("\ufeff")
    delimiter, quote = _csv_dialect(sample)
    first = next(csv.reader(io.StringIO(sample), delimiter=delimiter, quotechar=quote), [])
    normalized = [normalize_name(c) for c in first]
    known = set(expected)
    has_header = bool(known & set(normalized)) or len(first) != len(expected)
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
    except pl.exceptions.NoDataError:
        raise BadFile("no rows: the CSV holds no data") from None
    names = lf.collect_schema().names()
    lf = lf.rename({n: normalize_name(n) for n in names})
    info = {
        "delimiter": delimiter,
        "header": "yes" if has_header else "no (columns taken from the spec order)",
    }
    return lf, info


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
            for name, kind in zip(rel.columns, rel.types, strict=True)
        ]
        rel.select(*texts).write_parquet(str(out))
    except duckdb.Error as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise BadFile(f"malformed JSON: {first_line}") from None
    finally:
        con.close()
    lf = pl.scan_parquet(out)
    return lf.rename({n: normalize_name(n) for n in lf.collect_schema().names()})


def read_parquet_file(path: Path) -> pl.LazyFrame:
    try:
        lf = pl.scan_parquet(path)
        schema = lf.collect_schema()
    except Exception as exc:  # polars raises ComputeError/OSError variants for corrupt footers
        raise BadFile(
            f"unreadable Parquet (truncated or corrupt): {str(exc).splitlines()[0]}"
        ) from None
    return lf.rename({n: normalize_name(n) for n in schema.names()})


def read_landing_file(
    path: Path, fmt: str, workdir: Path, expected: list[str]
) -> tuple[pl.LazyFrame, dict[str, str]]:
    """A LazyFrame over one landing file, plus what was detected about it."""
    if fmt == "parquet":
        return read_parquet_file(path), {"format": "parquet", "encoding": "binary"}
    src = prepare_text(path, fmt, workdir)
    info = {"format": fmt, "encoding": src.encoding}
    if src.fmt == "csv":
        lf, extra = read_csv_text(src, expected)
        info.update(extra)
        return lf, info
    if src.fmt in ("json", "ndjson"):
        return read_json_text(src, workdir), info
    if src.fmt == "xml":
        return read_xml_text(src.path, workdir), info
    raise BadFile(f"unsupported format {fmt!r}")
