"""Landing files built to hurt: colliding column names, truncated XML, compression bombs, input
that makes a delimiter sniffer crawl, NUL bytes deep in a file. Each is quarantined with its
reason, and the files beside it are read."""

from __future__ import annotations

import codecs
import gzip
import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from assets.core import xml_reader
from assets.core.reader_base import BadFile, Budget
from assets.core.readers import SAMPLE, _csv_dialect, parquet_inflated_bytes, read_landing_file
from assets.core.spec import load_catalog
from assets.generator import GeneratorConfig, generate_dataset
from assets.ingestion.landing import ingest_landing_folder, load_ledger, scan_table

ORDERS = load_catalog()["orders"]
HEADER = "order_id,customer_id,product_id,quantity,unit_price,order_ts,channel,status"


def ingest(root: Path, **kw):
    kw.setdefault("settle_seconds", 0)  # files written by the test itself are complete
    return ingest_landing_folder(
        ORDERS,
        landing_root=root / "landing",
        table_dir=root / "lake" / "orders",
        ledger_path=root / "state" / "orders.parquet",
        quarantine_dir=root / "quarantine" / "orders",
        **kw,
    )


def orders_rows(n: int, start: int = 0) -> list[dict[str, str]]:
    return [
        {
            "order_id": f"O{i}",
            "customer_id": f"C{i * 7919 % 100_003}",
            "product_id": f"P{i * 104_729 % 1009}",
            "quantity": str(1 + i * 31 % 50),
            "unit_price": f"{i * 7_368_787 % 100_000 / 100:.2f}",
            "order_ts": f"2024-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
            "channel": "web",
            "status": "completed",
        }
        for i in range(start, start + n)
    ]


def orders_csv(n: int, start: int = 0) -> str:
    rows = [",".join(r.values()) for r in orders_rows(n, start)]
    return "\n".join([HEADER, *rows]) + "\n"


def statuses(report) -> dict[str, tuple[str, str]]:
    return {Path(o.path).name: (o.status, o.reason) for o in report.outcomes}


def test_columns_that_collide_after_normalising_quarantine_the_file_not_the_run(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "a_case.csv").write_text(orders_csv(3).replace("order_id,", "order_id,ORDER_ID,", 1))
    (folder / "b_twice.csv").write_text(orders_csv(3).replace("status", "status,status", 1))
    rows = orders_rows(2)
    (folder / "c_keys.json").write_text(
        json.dumps([{**r, "Amount": "1", "amount": "2"} for r in rows])
    )
    (folder / "d_keys.ndjson").write_text(
        "\n".join(json.dumps({**r, "Status": r["status"]}) for r in rows) + "\n"
    )
    pl.DataFrame(rows).with_columns(
        pl.lit("1").alias("Amount"), pl.lit("2").alias("amount")
    ).write_parquet(folder / "e_case.parquet")
    (folder / "f_punctuation.csv").write_text(
        orders_csv(3).replace("channel", "Channel,channel", 1)
    )
    (folder / "z_good.csv").write_text(orders_csv(5, start=100))
    report = ingest(tmp_path)
    got = statuses(report)
    assert got["z_good.csv"] == ("ingested", "")
    expected = {
        "a_case.csv": "'order_id' and 'ORDER_ID' would both be column 'order_id'",
        "b_twice.csv": "'status' and 'status' would both be column 'status' (the same name twice)",
        "c_keys.json": "'Amount' and 'amount' would both be column 'amount'",
        "d_keys.ndjson": "'Status' and 'status' would both be column 'status'",
        "e_case.parquet": "'Amount' and 'amount' would both be column 'amount'",
        "f_punctuation.csv": "'Channel' and 'channel' would both be column 'channel'",
    }
    for name, reason in expected.items():
        assert got[name][0] == "quarantined", (name, got[name])
        assert reason in got[name][1], (name, got[name][1])
    # The ledger was written, so the next run neither crashes nor reads any of them again.
    assert len(load_ledger(tmp_path / "state" / "orders.parquet")) == 7
    assert ingest(tmp_path).outcomes == []
    assert scan_table(tmp_path / "lake" / "orders").collect()["order_id"].to_list() == [
        f"O{i}" for i in range(100, 105)
    ]


def test_truncated_xml_is_quarantined_and_none_of_it_reaches_raw(tmp_path, monkeypatch):
    generate_dataset(tmp_path / "gen", GeneratorConfig(customers=50, orders=600, fmt="xml"))
    whole = sorted((tmp_path / "gen" / "orders").glob("*.xml"))[0].read_bytes()
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "whole.xml").write_bytes(whole)
    # Cut near the end, after whole batches of earlier records were written as parts (a small
    # batch makes several flush before the cut): halfway through a record's text, and just
    # after a record ends, where only the root's end tag is missing.
    last = whole.rindex(b"<order_id>", 0, len(whole) - 2000)
    (folder / "cut_in_record.xml").write_bytes(whole[: last + len(b"<order_id>") + 2])
    end = whole.rindex(b"</record>", 0, len(whole) - 2000) + len(b"</record>")
    (folder / "cut_between_records.xml").write_bytes(whole[:end])
    monkeypatch.setattr(xml_reader, "BATCH_VALUES", 500)
    report = ingest(tmp_path)
    got = statuses(report)
    assert got["whole.xml"][0] == "ingested"
    for name, inside in [("cut_in_record.xml", "order_id"), ("cut_between_records.xml", "orders")]:
        assert got[name][0] == "quarantined", (name, got[name])
        assert f"the file ends inside <{inside}> (truncated?)" in got[name][1], got[name][1]
    raw = scan_table(tmp_path / "lake" / "orders").collect()
    assert raw.height == report.rows == 600
    assert raw["_source_file"].unique().to_list() == ["orders/whole.xml"]


def _compressible_csv(rows: int) -> bytes:
    line = "O1,C1,P1,2,9.5,2024-03-01T10:00:00,web,completed\n"
    return (HEADER + "\n" + line * rows).encode()


BOMB = """
import resource, sys
from pathlib import Path
sys.path.insert(0, sys.argv[2])
# Any temp file past 2 MB fails to write (EFBIG): a reader that inflated the whole bomb before
# checking the limit would fail here instead of stopping at the limit.
resource.setrlimit(resource.RLIMIT_FSIZE, (2_000_000, 2_000_000))
from tests.assets.ingestion.test_landing_hostile import ingest
report = ingest(Path(sys.argv[1]), max_file_bytes=1_000_000)
print(report.outcomes[0].status, report.outcomes[0].reason)
"""


def test_a_gzip_bomb_stops_at_the_size_limit_while_it_inflates(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    bomb = folder / "bomb.csv.gz"
    bomb.write_bytes(gzip.compress(_compressible_csv(600_000), compresslevel=9))
    assert bomb.stat().st_size < 1_000_000  # under the limit as it lies on disk
    done = subprocess.run(
        [sys.executable, "-c", BOMB, str(tmp_path), str(Path.cwd())],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("quarantined it inflates to over 1,000,000 bytes"), done.stdout
    copies = list((tmp_path / "quarantine" / "orders").glob("*-bomb.csv.gz"))
    assert len(copies) == 1 and copies[0].read_bytes() == bomb.read_bytes()


def test_parquet_whose_pages_inflate_past_the_limit_is_refused(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    # Distinct long values, so no dictionary shrinks the pages: only zstd does.
    notes = pl.Series("note", [f"{'x' * 1000}{i}" for i in range(5000)])
    pl.DataFrame(orders_rows(5000)).with_columns(notes).write_parquet(
        folder / "dense.parquet", compression="zstd"
    )
    size = (folder / "dense.parquet").stat().st_size
    report = ingest(tmp_path, max_file_bytes=max(size * 2, 200_000))
    status, reason = statuses(report)["dense.parquet"]
    assert status == "quarantined" and "pages inflate to" in reason, reason


SLOW = """
import resource, sys
sys.path.insert(0, sys.argv[1])
# A CPU-time limit (not a wall clock): the process is killed if the work is not linear.
resource.setrlimit(resource.RLIMIT_CPU, (60, 60))
from assets.core.readers import _csv_dialect
print(_csv_dialect(',"x' * 87_000))
"""


def test_delimiter_detection_is_linear_on_input_built_to_make_a_sniffer_crawl(tmp_path):
    # 261 KB of ',"x' took csv.Sniffer 488 s of CPU; a CPU limit of 60 s kills anything like it.
    done = subprocess.run(
        [sys.executable, "-c", SLOW, str(Path.cwd())], capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-1000:])
    assert done.stdout.strip() == "(',', '\"')"
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "slow.csv").write_text(',"x' * 87_000)
    assert statuses(ingest(tmp_path))["slow.csv"][0] == "quarantined"


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ('a;b;c\n1;"x, y";3\n4;"p,q";6\n', ";"),
        ("a\tb\n1\t2\n", "\t"),
        ("a|b|c\n1|2|3\n", "|"),
        ('a,b\n"1;2",3\n"4;5",6\n', ","),
        ('name;note\nAnn;"line one\nline two; with a semicolon"\n', ";"),
        ("only_one_column\n1\n2\n", ","),
        ("", ","),
    ],
)
def test_delimiter_detection_reads_the_first_records(text, delimiter):
    assert _csv_dialect(text) == (delimiter, '"')


def test_a_file_over_its_cpu_budget_is_refused_with_the_reason(tmp_path):
    path = tmp_path / "big.xml"
    record = "<r><a>1</a><b>2</b></r>"
    path.write_text("<rows>" + record * 100_000 + "</rows>")  # over one 1 MB block
    with pytest.raises(BadFile, match=r"parsing the XML took over 0 s of CPU time"):
        read_landing_file(path, "xml", tmp_path, [], budget=Budget(path.stat().st_size, 0.0))


def test_nul_bytes_past_the_head_quarantine_the_file_in_every_format(tmp_path):
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    filler = orders_csv(6000)  # > 256 KB, so the NUL lies beyond the sampled head
    assert len(filler) > SAMPLE
    deep = filler + "O-nul,C1,P1,2,9.5,2024-03-01T10:00:00,web,comp\x00leted\n"
    (folder / "deep.csv").write_text(deep)
    (folder / "deep.csv.gz").write_bytes(gzip.compress(deep.encode()))
    rows = orders_rows(3)
    rows[1]["customer_id"] = "C\x001"
    (folder / "escaped.json").write_text(json.dumps(rows))  # the JSON text has \u0000, no NUL byte
    rows[1]["customer_id"] = "C1"
    pl.DataFrame(rows).with_columns(pl.lit("x\x00y").alias("note")).write_parquet(
        folder / "note.parquet"
    )
    (folder / "z_good.csv").write_text(orders_csv(4, start=9000))
    (folder / "ref.xml").write_text("<orders><order><order_id>O&#0;1</order_id></order></orders>")
    report = ingest(tmp_path)
    got = statuses(report)
    assert got["z_good.csv"][0] == "ingested"
    for name in ("deep.csv", "deep.csv.gz"):
        assert got[name] == (
            "quarantined",
            "a text value holds a NUL byte (column 'status', row 6,001): NUL is not text, and "
            "PostgreSQL cannot store it",
        )
    assert (
        got["escaped.json"][0] == "quarantined"
        and "column 'customer_id', row 2" in got["escaped.json"][1]
    )
    assert (
        got["note.parquet"][0] == "quarantined" and "column 'note', row 1" in got["note.parquet"][1]
    )
    raw = scan_table(tmp_path / "lake" / "orders").collect()
    assert raw.height == 4
    # XML cannot hold a NUL at all, not even as a character reference: expat refuses it.
    assert got["ref.xml"][0] == "quarantined" and "invalid character" in got["ref.xml"][1]


def test_parquet_small_through_its_encodings_is_refused_by_what_its_rows_take_as_text(tmp_path):
    """Five million equal rows are runs of a few bytes: the pages' uncompressed size stays far
    under the limit, while the same rows as CSV text would take 80 MB and more."""
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    rows = 5_000_000
    orders = pl.DataFrame(orders_rows(1)).select(pl.all().repeat_by(rows).explode())
    orders.write_parquet(folder / "runs.parquet", compression="zstd")
    assert (folder / "runs.parquet").stat().st_size < 200_000
    assert parquet_inflated_bytes(folder / "runs.parquet") < 1_000_000  # what the old check saw
    report = ingest(tmp_path, max_file_bytes=1_000_000)
    status, reason = statuses(report)["runs.parquet"]
    assert status == "quarantined", (status, reason)
    assert "its rows would take at least 80,000,000 bytes as CSV text" in reason, reason


def test_utf16_text_with_its_byte_order_mark_is_read_as_text(tmp_path):
    """Spreadsheets save "Unicode text" as UTF-16 with a byte-order mark: NUL bytes in every
    ASCII character, which made it "binary content". Both byte orders are read, values intact."""
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    rows = (
        "O1,C1,P1,2,9.5,2024-03-01T10:00:00,web,completed\n"
        "O2,C1,P1,1,5.0,2024-03-02T10:00:00,web,completed\n"
    )
    text = f"{HEADER}\n{rows}"
    (folder / "le.csv").write_bytes(text.encode("utf-16"))  # BOM, then little-endian
    (folder / "be.csv").write_bytes(
        codecs.BOM_UTF16_BE + text.replace("O", "Q").encode("utf-16-be")
    )
    first = rows.splitlines()[0].replace("O1", "X1").split(",")
    fields = "".join(f"<{k}>{v}</{k}>" for k, v in zip(HEADER.split(","), first, strict=True))
    xml = f'<?xml version="1.0" encoding="UTF-16"?>\n<orders><record>{fields}</record></orders>'
    (folder / "x.xml").write_bytes(xml.encode("utf-16"))
    report = ingest(tmp_path)
    assert {n: s for n, (s, _r) in statuses(report).items()} == {
        "le.csv": "ingested",
        "be.csv": "ingested",
        "x.xml": "ingested",
    }
    raw = scan_table(tmp_path / "lake" / "orders").collect().sort("order_id")
    assert raw["order_id"].to_list() == ["O1", "O2", "Q1", "Q2", "X1"]
    assert raw["quantity"].to_list() == [2, 1, 2, 1, 2]
    assert raw["_ingest_errors"].null_count() == 5
