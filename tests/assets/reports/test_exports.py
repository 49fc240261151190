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


def test_shareable_exports_mask_emails_and_phones_in_every_format(tmp_path):
    from assets.reports.exports import Export

    assert all(isinstance(e, Export) and e.shareable for e in EXPORT_TABLES.values())
    note = "ask zelda.quixotewright@privacy-probe.example or call +33 6 47 58 69 12"
    frames = {t: pl.DataFrame({"id": [1], "note": [note]}) for t in EXPORT_TABLES}
    write_exports(lambda name: frames[name].lazy(), tmp_path)
    for path in tmp_path.iterdir():
        text = path.read_bytes().decode("utf-8", errors="replace")
        if path.suffix == ".parquet":
            text = pl.read_parquet(path)["note"][0]
        assert "quixotewright" not in text and "47 58 69" not in text, path.name
        assert "z***@privacy-probe.example or call +33 ** ** ** 12" in text, path.name
