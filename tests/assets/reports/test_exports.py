"""Every export table in every format, from frames handed in by name."""

from __future__ import annotations

import polars as pl

from assets.reports.exports import EXPORT_FORMATS, EXPORT_TABLES, write_exports


def test_every_table_is_written_in_every_format_with_its_row_count(tmp_path):
    frames = {
        t: pl.DataFrame({"id": list(range(i + 1)), "name": ["a<b"] * (i + 1)})
        for i, t in enumerate(EXPORT_TABLES)
    }
    counts = write_exports(lambda name: frames[name].lazy(), tmp_path)
    assert counts == {t: f.height for t, f in frames.items()}
    for table, frame in frames.items():
        assert sorted(p.name for p in tmp_path.glob(f"{table}.*")) == sorted(
            f"{table}.{fmt}" for fmt in EXPORT_FORMATS
        )
        assert pl.read_parquet(tmp_path / f"{table}.parquet").equals(frame)
        assert (tmp_path / f"{table}.xml").read_text().count("<record>") == frame.height
