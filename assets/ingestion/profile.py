"""Profiling files into draft dataset specs (``pipeline-profile``).

A file is read once, through the landing-zone readers (format and encoding detected as
ingestion does), into memory as text; nothing is sampled. Types come from each column's distinct
texts (``profiling.inference``); the file is then cast by ingestion's own ``conform`` and one
query over the typed frame gives every column's statistics (``profiling.columns``); keys are
searched on the typed frame (``profiling.keys``). A folder gives one draft per dataset, with
foreign keys between them (``profiling.foreign``). Every draft loads unedited.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import polars as pl

from assets.core.columns import ERRORS_COLUMN
from assets.core.reader_base import normalize_name
from assets.core.readers import BadFile, detect_format, read_landing_file
from assets.core.spec import DEFAULT_NULL_VALUES, DatasetSpec
from assets.core.spec_rules import IDENTIFIER
from assets.ingestion.conform import conform
from assets.ingestion.profiling.columns import (
    ColumnProfile,
    column_profile,
    stats_exprs,
    value_counts,
)
from assets.ingestion.profiling.foreign import Table, foreign_keys
from assets.ingestion.profiling.inference import PARSING_FIELDS, Inferred, infer_frame
from assets.ingestion.profiling.keys import ID_NAME, find_keys
from assets.ingestion.profiling.memory import available_memory, memory_refusal
from assets.ingestion.profiling.render import Draft, to_yaml

__all__ = ["profile_file", "profile_folder", "profile_frame", "to_yaml"]
PEOPLE = re.compile(r"customer|user|person|people|employee|member|patient|client|contact|staff")
READABLE = (".csv", ".tsv", ".txt", ".csv.gz", ".tsv.gz", ".json", ".ndjson", ".jsonl")
READABLE += (".parquet", ".pq", ".xml")


@dataclass
class Profiled:
    """One dataset's draft and what the foreign-key search needs of it."""

    draft: Draft
    table: Table


def _dataset_nulls(found: dict[str, Inferred]) -> list[str] | None:
    """The default null spellings the data uses, when it uses some: typed columns decide (a
    comment reading ``None`` is text); a file of text columns only keeps what they show."""
    typed = {t for f in found.values() if f.type != "string" for t in f.tokens}
    seen = typed or {t for f in found.values() for t in f.tokens}
    listed = [t for t in DEFAULT_NULL_VALUES if t in seen]
    return listed or None


def _reading_spec(name: str, found: dict[str, Inferred], nulls: list[str] | None) -> DatasetSpec:
    columns = [
        {"name": c, "type": f.type} | {a: getattr(f, a) for a in PARSING_FIELDS if getattr(f, a)}
        for c, f in found.items()
    ]
    return DatasetSpec.model_validate(
        {"name": name, "columns": columns} | ({"null_values": nulls} if nulls else {})
    )


def _mark_person_names(name: str, profiles: dict[str, ColumnProfile]) -> None:
    """A bare ``name`` column is personal data in a table of people (one with other personal
    columns, or named so); an airline's or a product's name is not."""
    people = PEOPLE.search(name) or any(p.entry.get("pii") for p in profiles.values())
    if people and "name" in profiles:
        profiles["name"].entry["pii"] = True


def profile_table(
    raw: pl.DataFrame, name: str, source: str, today: date | None = None, read_all: bool = True
) -> Profiled:
    """The draft for the rows of ``raw`` (as read from the landing files); ``read_all`` is
    false when they are only the first rows of the files (``--rows``)."""
    today = today or date.today()
    found = infer_frame(raw)
    nulls = _dataset_nulls(found)
    reading = _reading_spec(name, found, nulls)
    typed = conform(raw.lazy(), reading, source_file="", file_sha256="").collect()
    failed = typed[ERRORS_COLUMN].drop_nulls().len()
    typed = typed.select(list(found))
    rows = typed.height
    exprs = [e for c, f in found.items() for e in stats_exprs(c, f.type)]
    stats = typed.select(exprs).row(0, named=True) if exprs else {}
    counts = value_counts(typed)
    profiles: dict[str, ColumnProfile] = {
        c: column_profile(c, f, stats, rows, counts[c], today) for c, f in found.items()
    }
    distinct = {c: frame.height for c, frame in counts.items()}
    del counts
    _mark_person_names(name, profiles)
    free_text = {c for c, p in profiles.items() if p.free_text}
    kinds = {c: f.type for c, f in found.items()}
    nulls_of = {c: int(stats[f"{c}|nulls"]) for c in found}
    keys = find_keys(typed, kinds, nulls_of, free_text, distinct)
    doubts = [f"{c}: {d}" for c, p in profiles.items() for d in p.doubts]
    if failed:
        doubts.append(f"{failed:,} rows did not cast to the drafted types")
    for cols, note in keys.near.items():
        doubts.append(f"{', '.join(cols)}: a near-key, {note}")
        profiles[cols[0]].evidence += f"; near-key: {note}"
    if not read_all:
        doubts.append(
            f"only the first {rows:,} rows were read (--rows): the key, bounds, value lists and "
            "foreign keys rest on them; profile every row before trusting them"
        )
    if keys.repeated_rows:
        doubts.append(f"{keys.repeated_rows:,} rows repeat an earlier row in every column")
    if not keys.key and rows > 1:
        doubts.append("no key: no set of up to three code or number columns is unique")
    for c in keys.key if len(keys.key) == 1 else ():
        profiles[c].entry["unique"] = True
    for cols in keys.unique:  # a time or a measure unique by chance is no identifier
        if len(cols) == 1 and (kinds[cols[0]] == "string" or ID_NAME.search(cols[0])):
            profiles[cols[0]].entry["unique"] = True
    spec: dict[str, object] = {
        "name": name,
        "description": f"Draft profiled from {source}, {rows:,} rows: describe the data here.",
        "owner": "team:data-platform",
        "source": {"kind": "landing", "folder": name},
    }
    if nulls:
        spec["null_values"] = nulls
    if keys.key:
        spec["key"] = keys.key
    # Other unique sets of several columns are often chance (a region and a birth date): named
    # in the key's comment for the reviewer, not enforced.
    also = [", ".join(cols) for cols in keys.unique if len(cols) > 1][:3]
    spec["columns"] = [p.entry for p in profiles.values()]
    draft = Draft(
        spec,
        f"{source}; {rows:,} rows, " + ("every row read" if read_all else "the first rows only"),
        evidence={c: p.evidence for c, p in profiles.items()},
        key_comment=(
            f"unique over {'all ' if read_all else 'the '}{rows:,} rows" if keys.key else ""
        )
        + (f"; also unique: {'; '.join(also)}" if also else ""),
        doubts=doubts,
    )
    DatasetSpec.model_validate(spec)  # a draft that does not load is a bug here, not the user's
    return Profiled(draft, Table(name, typed, kinds, keys.key, free_text))


def profile_frame(lf: pl.LazyFrame, name: str, source_label: str = "") -> dict[str, object]:
    """A draft spec (a plain mapping, ready for YAML) for the data in ``lf``."""
    return profile_table(lf.collect(), name, source_label or "a frame").draft.spec


def _read(paths: list[Path], max_rows: int | None = None) -> tuple[pl.DataFrame, str, bool]:
    """The rows of ``paths`` (one dataset's files) as read at landing, where they came from,
    and whether every row was read (at most ``max_rows`` are, in file order)."""
    frames, labels = [], []
    left = max_rows
    with tempfile.TemporaryDirectory(prefix="profile-") as tmp:
        for path in paths:
            if left is not None and left < 0:
                break
            with path.open("rb") as fh:
                head = fh.read(4096)
            lf, info = read_landing_file(path, detect_format(path, head), Path(tmp), expected=[])
            # One row beyond the limit tells a file that ends there from one that goes on.
            frames.append(lf.collect() if left is None else lf.head(left + 1).collect())
            labels.append(f"{path.name} ({info['format']}, {info['encoding']})")
            if left is not None:
                left -= frames[-1].height
    # Not rechunked: every later pass reads chunked columns as fast, and the copy costs ~0.4 s
    # per GB of text.
    frame = (
        frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed", rechunk=False)
    )
    shown = ", ".join(labels[:3]) + (
        f" and {len(labels) - 3} more files" if len(labels) > 3 else ""
    )
    read_all = max_rows is None or frame.height <= max_rows
    return (frame if read_all else frame.head(max_rows)), shown, read_all


def profile_file(path: Path, name: str, max_rows: int | None = None) -> Draft:
    """Read ``path`` (CSV, csv.gz, JSON, NDJSON, Parquet or XML), or its first ``max_rows``
    rows, and profile it."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"--name {name!r} must match {IDENTIFIER.pattern}")
    frame, source, read_all = _read([path], max_rows)
    return profile_table(frame, name, source, read_all=read_all).draft


def _readable(path: Path) -> bool:
    return path.is_file() and path.name.lower().endswith(READABLE) and not path.name.startswith(".")


def datasets_in(folder: Path) -> dict[str, list[Path]]:
    """Dataset name -> its files: each readable file of ``folder``, and each subfolder's
    readable files (a dataset delivered in parts)."""
    out: dict[str, list[Path]] = {}
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith("."):
            continue
        files = sorted(p for p in entry.iterdir() if _readable(p)) if entry.is_dir() else []
        if _readable(entry):
            stem = entry.name.split(".")[0]
            files = [entry]
        else:
            stem = entry.name
        if not files:
            continue
        name = normalize_name(stem)
        if not IDENTIFIER.match(name):
            name = f"t_{name}"
        if name in out:
            raise ValueError(f"{entry}: a second dataset named {name!r}; rename one")
        out[name] = files
    return out


def profile_folder(
    folder: Path, today: date | None = None, max_rows: int | None = None
) -> tuple[dict[str, Draft], dict[str, str]]:
    """One draft per dataset of ``folder`` (of its first ``max_rows`` rows when given), with
    foreign keys proposed between them; and the datasets that could not be read as a table
    (a manifest, a broken file), with the reason."""
    found = datasets_in(folder)
    if not found:
        raise ValueError(f"{folder}: no CSV, JSON, NDJSON, Parquet or XML file in it")
    profiled: dict[str, Profiled] = {}
    skipped: dict[str, str] = {}
    for name, paths in found.items():
        try:
            frame, source, read_all = _read(paths, max_rows)
        except BadFile as exc:
            skipped[name] = f"{', '.join(p.name for p in paths)}: {exc}"
            continue
        profiled[name] = profile_table(frame, name, source, today, read_all)
    tables = [p.table for p in profiled.values()]
    for p in profiled.values():
        fks = foreign_keys(p.table, tables)
        if fks:
            p.draft.spec["foreign_keys"] = [fk.spec for fk in fks]
            p.draft.fk_comments = [fk.comment for fk in fks]
            p.draft.doubts += [fk.doubt for fk in fks if fk.doubt]
            DatasetSpec.model_validate(p.draft.spec)
    return {name: p.draft for name, p in profiled.items()}, skipped


def _write(path: Path, text: str) -> None:
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _positive(text: str) -> int:
    import argparse

    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of rows above 0, not {text!r}")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        prog="pipeline-profile",
        description="Profile a CSV, JSON, NDJSON, Parquet or XML file, or a folder of them (one "
        "dataset per file or per subfolder), into draft dataset specs: types and formats, null "
        "spellings, keys, ranges, patterns, value lists and foreign keys, each with the "
        "evidence it rests on. Review the drafts, then commit them to datasets/.",
    )
    parser.add_argument("path", type=Path, help="a file, or a folder of datasets")
    parser.add_argument("--name", help="dataset name of a single file, e.g. invoices")
    parser.add_argument(
        "--out",
        type=Path,
        help="file: the YAML to write (default: stdout); folder: the "
        "folder to write <dataset>.yaml into (required)",
    )
    parser.add_argument(
        "--rows",
        type=_positive,
        help="profile only the first ROWS rows of each dataset (default: every row; a run "
        "whose files would not fit in memory is refused with a ROWS that would)",
    )
    args = parser.parse_args(argv)
    try:
        if args.rows is None and args.path.exists():
            sets = list(datasets_in(args.path).values()) if args.path.is_dir() else [[args.path]]
            refusal = memory_refusal(sets, available_memory())
            if refusal:
                parser.error(f"{args.path}: {refusal}")
        if args.path.is_dir():
            if args.out is None or args.name:
                parser.error("a folder takes --out DIR (one <dataset>.yaml each) and no --name")
            drafts, skipped = profile_folder(args.path, max_rows=args.rows)
            for name, draft in drafts.items():
                _write(args.out / f"{name}.yaml", to_yaml(draft))
                print(f"wrote {args.out / f'{name}.yaml'}", file=sys.stderr)
            for reason in skipped.values():
                print(f"skipped {reason}", file=sys.stderr)
            return 0 if drafts else 1
        if not args.path.is_file():
            parser.error(f"PATH: no such file or folder: {args.path}")
        if not args.name:
            parser.error("a file needs --name, the dataset's name")
        text = to_yaml(profile_file(args.path, args.name, args.rows))
    except (ValueError, BadFile) as exc:
        parser.error(f"{args.path}: {exc}")
    if args.out is None:
        sys.stdout.write(text)
        return 0
    _write(args.out, text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
