"""Ingestion of landing files: formats, encodings, bad files, idempotence, atomicity, safety."""

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assets.core.spec import load_catalog
from assets.core.writers import FORMATS
from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.defects import DEFECT_KINDS
from assets.ingestion.landing import ingest_landing_folder, load_ledger, scan_table

CATALOG = load_catalog()
CUSTOMERS = CATALOG["customers"]
ORDERS = CATALOG["orders"]


def ingest(root: Path, spec=ORDERS, **kw):
    kw.setdefault("settle_seconds", 0)  # files written by the test itself are complete
    return ingest_landing_folder(
        spec,
        landing_root=root / "landing",
        table_dir=root / "lake" / spec.name,
        ledger_path=root / "state" / f"{spec.name}.parquet",
        quarantine_dir=root / "quarantine" / spec.name,
        **kw,
    )


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_lands_typed_with_every_row(tmp_path, fmt):
    rates = dict.fromkeys(DEFECT_KINDS, 0.02)
    m = generate_dataset(
        tmp_path / "landing",
        GeneratorConfig(customers=200, orders=2000, defect_rates=rates, fmt=fmt),
    )
    report = ingest(tmp_path)
    assert report.rows == m["row_counts"]["orders"]
    table = scan_table(tmp_path / "lake" / "orders").collect()
    assert table.schema["quantity"] == pl.Int64 and table.schema["order_ts"] == pl.Datetime("us")
    wrong = m["defect_counts"]["orders"].get("wrong_type", 0)
    assert table["_ingest_errors"].is_not_null().sum() == wrong
    if wrong:
        assert (
            table.filter(pl.col("_ingest_errors").is_not_null())["_ingest_errors"]
            .str.contains('"quantity": "#VALUE!"')
            .all()
        )


CUSTOMER_HEADER = "customer_id;name;email;country;plan_type;account_created_date;city\n"
CUSTOMER_ROWS = [
    "C1;José Núñez;jose.nunez@example.es;Spain;pro;2024-01-05;Málaga\n",
    "C2;Zoë Brontë;zoe.bronte@example.fr;France;free;2024-02-01;Besançon\n",
]


@pytest.mark.parametrize(
    ("encoding", "detected"),
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("latin-1", "cp1252"), ("cp1252", "cp1252")],
)
def test_encodings_are_detected_and_accents_survive(tmp_path, encoding, detected):
    folder = tmp_path / "landing" / "customers"
    folder.mkdir(parents=True)
    text = CUSTOMER_HEADER + "".join(CUSTOMER_ROWS)
    if encoding == "cp1252":
        text += "C3;Renée “Quote” Ørsted;renee.orsted@example.dk;Denmark;basic;2024-03-01;Århus\n"
    (folder / "people.csv").write_bytes(text.encode(encoding))
    report = ingest(tmp_path, CUSTOMERS)
    assert [o.encoding for o in report.outcomes] == [detected]
    table = scan_table(tmp_path / "lake" / "customers").collect()
    assert table["name"].to_list()[:2] == ["José Núñez", "Zoë Brontë"]
    assert table["city"].to_list()[:2] == ["Málaga", "Besançon"]
    if encoding == "cp1252":
        assert table["name"][2] == "Renée “Quote” Ørsted"


def test_a_small_latin1_file_with_its_only_accent_at_the_end_is_not_taken_for_utf8(tmp_path):
    # The whole file is the sample, so invalid UTF-8 at its end is not a cut-off character.
    folder = tmp_path / "landing" / "customers"
    folder.mkdir(parents=True)
    text = CUSTOMER_HEADER + "C9;Ana Lopez;ana@example.co;Colombia;pro;2024-01-05;Bogotá\n"
    (folder / "small.csv").write_bytes(text.encode("latin-1"))
    report = ingest(tmp_path, CUSTOMERS)
    assert [(o.status, o.encoding) for o in report.outcomes] == [("ingested", "cp1252")]
    assert scan_table(tmp_path / "lake" / "customers").collect()["city"].to_list() == ["Bogotá"]


def test_quoted_newlines_tabs_and_headerless_csv(tmp_path):
    folder = tmp_path / "landing" / "customers"
    folder.mkdir(parents=True)
    (folder / "tabs.tsv").write_text(
        "customer_id\tname\temail\taddress\tcountry\tplan_type\taccount_created_date\n"
        'C1\t"Ann\nLee"\tann.lee@example.com\t"1 Main St\nApt 2"\tUnited States\tpro\t2024-01-01\n'
    )
    # A file with no header: values in the contract's column order.
    values = dict.fromkeys((c.name for c in CUSTOMERS.columns), "")
    values.update(
        customer_id="C2",
        name="Bo Li",
        email="bo.li@example.com",
        country="China",
        plan_type="free",
        account_created_date="2024-01-02",
    )
    (folder / "noheader.csv").write_text(",".join(values.values()) + "\n")
    report = ingest(tmp_path, CUSTOMERS)
    assert {o.status for o in report.outcomes} == {"ingested"}
    table = scan_table(tmp_path / "lake" / "customers").collect().sort("customer_id")
    assert table["name"].to_list() == ["Ann\nLee", "Bo Li"]
    assert table["address"][0] == "1 Main St\nApt 2"
    assert table["country"].to_list() == ["United States", "China"]
    assert table["account_created_date"][1].isoformat() == "2024-01-02"


def test_mixed_batch_quarantines_each_bad_file_with_its_reason_and_keeps_the_good(tmp_path):
    generate_dataset(tmp_path / "gen", GeneratorConfig(customers=100, orders=500, fmt="csv"))
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    good = (tmp_path / "gen" / "orders" / "orders-00000.csv").read_bytes()
    (folder / "good.csv").write_bytes(good)
    (folder / "empty.csv").write_bytes(b"")
    pq = tmp_path / "gen.parquet"
    pl.read_csv(good).write_parquet(pq)
    (folder / "truncated.parquet").write_bytes(pq.read_bytes()[: pq.stat().st_size // 2])
    (folder / "junk.csv").write_bytes(bytes(range(256)) * 40)
    header = good.split(b"\n", 1)[0] + b"\n"
    (folder / "unterminated.csv").write_bytes(
        header
        + b'O1,C1,P1,"3,1.0,0,2024-01-01T00:00:00,web,completed\n'
        + b"O2,C2,P2,1,1.0,0,2024-01-01T00:00:00,web,completed\n"
    )
    (folder / "no_key.csv").write_text("customer,product\nC1,P1\n")
    (folder / "huge.csv").write_bytes(good + good)
    before = snapshot(tmp_path / "landing")
    report = ingest(tmp_path, max_file_bytes=len(good) + 10)
    status = {Path(o.path).name: (o.status, o.reason) for o in report.outcomes}
    assert status["good.csv"][0] == "ingested"
    assert report.rows == 500
    expected = {
        "empty.csv": "zero-byte file",
        "truncated.parquet": "unreadable Parquet",
        "junk.csv": "binary content",
        "unterminated.csv": "an unterminated or unescaped quote",
        "no_key.csv": "missing required column(s): 'order_id'",
        "huge.csv": "over the",
    }
    for name, reason in expected.items():
        assert status[name][0] == "quarantined", name
        assert reason in status[name][1], (name, status[name][1])
        copies = list((tmp_path / "quarantine" / "orders").glob(f"*-{name}"))
        assert len(copies) == 1 and copies[0].read_bytes() == (folder / name).read_bytes()
        sidecar = json.loads(copies[0].with_name(copies[0].name + ".json").read_text())
        assert sidecar["reason"] == status[name][1]
    assert snapshot(tmp_path / "landing") == before  # inputs are never modified


def test_rerun_ingests_nothing_and_renamed_copy_is_a_duplicate(tmp_path):
    generate_dataset(tmp_path / "landing", GeneratorConfig(customers=100, orders=800, fmt="csv"))
    first = ingest(tmp_path)
    assert first.rows == 800
    lake_before = snapshot(tmp_path / "lake")
    again = ingest(tmp_path)
    assert again.outcomes == [] and snapshot(tmp_path / "lake") == lake_before
    src = tmp_path / "landing" / "orders" / "orders-00000.csv"
    (src.parent / "renamed-copy.csv").write_bytes(src.read_bytes())
    third = ingest(tmp_path)
    assert [(o.status, Path(o.path).name) for o in third.outcomes] == [
        ("duplicate", "renamed-copy.csv")
    ]
    assert "same bytes as orders/orders-00000.csv" in third.outcomes[0].reason
    assert scan_table(tmp_path / "lake" / "orders").select(pl.len()).collect().item() == 800
    ledger = load_ledger(tmp_path / "state" / "orders.parquet")
    assert sorted(ledger["status"].to_list()) == ["duplicate", "ingested"]


def test_paths_escaping_the_landing_zone_are_refused(tmp_path):
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd.csv").write_text("order_id\nO1\n")
    folder = tmp_path / "landing" / "orders"
    folder.mkdir(parents=True)
    (folder / "link.csv").symlink_to(outside / "passwd.csv")
    (folder / "dirlink").symlink_to(outside, target_is_directory=True)
    report = ingest(tmp_path)
    assert [o.status for o in report.outcomes] == ["refused"]
    assert "links outside the landing zone" in report.outcomes[0].reason
    assert not list((tmp_path / "quarantine" / "orders").glob("*passwd*"))
    evil = ORDERS.model_copy(
        update={"source": ORDERS.source.model_copy(update={"folder": "../secret"})}
    )
    escaped = ingest(tmp_path, evil)
    assert [o.status for o in escaped.outcomes] == ["refused"]


WRITER = """
import sys, polars as pl
from pathlib import Path
from assets.ingestion.landing import sink_parquet_atomic
big = pl.LazyFrame({"x": range(30_000_000)}).with_columns(pl.col("x").cast(pl.String).alias("s"))
print("start", flush=True)
sink_parquet_atomic(big, Path(sys.argv[1]))
"""


def test_killed_writer_leaves_the_old_file_or_nothing_never_a_partial(tmp_path):
    target = tmp_path / "lake" / "t" / "part-full.parquet"
    target.parent.mkdir(parents=True)
    pl.DataFrame({"x": [1, 2, 3]}).write_parquet(target)
    before = target.read_bytes()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(target)], stdout=subprocess.PIPE, cwd=Path.cwd()
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"start"
    # Kill once the temp file exists, i.e. mid-write (the whole write takes ~1.2 s here, so a
    # fixed sleep could let it finish first and the test would not be testing anything).
    deadline = time.monotonic() + 60
    while not any(p.name.startswith(".") for p in target.parent.iterdir()):
        assert time.monotonic() < deadline, "the writer never created its temp file"
        time.sleep(0.01)
    assert proc.poll() is None, "the write finished before the kill"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert target.read_bytes() == before  # the old data, intact
    assert pl.read_parquet(target)["x"].to_list() == [1, 2, 3]
    leftovers = [p for p in target.parent.iterdir() if p.name != target.name]
    assert all(p.name.startswith(".") for p in leftovers)  # only hidden temp files, never read


def test_csv_gz_and_json_array_round_trip(tmp_path):
    folder = tmp_path / "landing" / "customers"
    folder.mkdir(parents=True)
    with gzip.open(folder / "a.csv.gz", "wt", encoding="latin-1") as fh:
        fh.write(CUSTOMER_HEADER.replace(";", ",") + CUSTOMER_ROWS[0].replace(";", ","))
    (folder / "b.json").write_text(
        json.dumps(
            [
                {
                    "customer_id": "C9",
                    "name": "Ana",
                    "email": "ana@x.io",
                    "country": "Spain",
                    "plan_type": "pro",
                    "account_created_date": "2024-01-01",
                }
            ]
        )
    )
    report = ingest(tmp_path, CUSTOMERS)
    assert sorted((o.format, o.encoding) for o in report.outcomes) == [
        ("csv.gz", "cp1252"),
        ("json", "utf-8"),
    ]
    names = scan_table(tmp_path / "lake" / "customers").collect()["name"].sort().to_list()
    assert names == ["Ana", "José Núñez"]


cell = st.one_of(
    st.integers(-1000, 1000).map(str),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(lambda f: f"{f:.3f}"),
    st.sampled_from(["N/A", "NA", "", "abc", "1e3", "  7 ", "3.0", "#VALUE!"]),
    st.text(alphabet="abc ,;\"'\n", max_size=8),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(st.tuples(cell, cell, cell), min_size=1, max_size=30),
    delimiter=st.sampled_from([",", ";", "\t", "|"]),
)
def test_property_rows_in_equal_valid_plus_flagged(tmp_path_factory, rows, delimiter):
    root = tmp_path_factory.mktemp("prop")
    folder = root / "landing" / "orders"
    folder.mkdir(parents=True)

    def quote(v: str) -> str:
        return '"' + v.replace('"', '""') + '"'

    header = delimiter.join(
        [
            "order_id",
            "customer_id",
            "product_id",
            "quantity",
            "unit_price",
            "order_ts",
            "channel",
            "status",
            "note",
        ]
    )
    lines = [header]
    for i, (q, p, note) in enumerate(rows):
        lines.append(
            delimiter.join(
                [
                    f"O{i}",
                    "C1",
                    "P1",
                    quote(q),
                    quote(p),
                    "2024-01-01T00:00:00",
                    "web",
                    "completed",
                    quote(note),
                ]
            )
        )
    (folder / "data.csv").write_text("\n".join(lines) + "\n")
    report = ingest(root)
    assert report.outcomes[0].status == "ingested", report.outcomes[0].reason
    table = scan_table(root / "lake" / "orders").collect()
    assert table.height == len(rows)  # rows in = valid rows + flagged rows; none dropped
    flagged = table["_ingest_errors"].is_not_null()
    valid = table.filter(~flagged)
    assert flagged.sum() + valid.height == len(rows)
    # A flagged row keeps the original text of what could not be cast.
    for row in table.filter(flagged).iter_rows(named=True):
        errors = json.loads(row["_ingest_errors"])
        assert set(errors) <= {"quantity", "unit_price"}
        original = rows[int(row["order_id"][1:])]
        if "quantity" in errors:
            assert errors["quantity"] == original[0]


def test_a_landing_root_behind_a_symlink_is_read(tmp_path):
    """Deployments often mount data behind a link (/data -> /mnt/disk1/data)."""
    real = tmp_path / "disk" / "landing"
    (real / "customers").mkdir(parents=True)
    (real / "customers" / "c.csv").write_text(
        "customer_id,name,email,country,plan_type,account_created_date\n"
        "C1,Ann,ann@example.com,Germany,pro,2024-01-01\n"
    )
    link = tmp_path / "landing"
    link.symlink_to(real, target_is_directory=True)
    report = ingest_landing_folder(
        load_catalog()["customers"],
        landing_root=link,
        table_dir=tmp_path / "lake" / "customers",
        ledger_path=tmp_path / "state" / "ledger.parquet",
        quarantine_dir=tmp_path / "q",
    )
    assert [(o.path, o.status, o.rows) for o in report.outcomes] == [
        ("customers/c.csv", "ingested", 1)
    ]


CRM_EXPORT = """<?xml version="1.0" encoding="UTF-8"?>
<!-- CRM export, nightly -->
<crm:customers xmlns:crm="urn:example:crm" xmlns="urn:example:customer" generated="2025-03-01">
  <customer customer_id="C1" plan_type="pro">
    <name>Ren&#233;e O&#x2019;Brien</name>
    <!-- <email>old@example.com</email> -->
    <email>renee@example.ie</email>
    <country>Ireland</country>
    <crm:account_created_date>2024-01-05</crm:account_created_date>
    <address><![CDATA[12 <Main> St & Co]]></address>
  </customer>
  <customer customer_id="C2" plan_type="free">
    <name>Bo Li</name><email>bo.li@example.com</email><country>China</country>
    <crm:account_created_date>2024-02-30</crm:account_created_date>
  </customer>
</crm:customers>
"""


def test_an_xml_export_lands_typed_and_bad_xml_is_quarantined_with_where(tmp_path):
    folder = tmp_path / "landing" / "customers"
    folder.mkdir(parents=True)
    (folder / "crm.xml").write_text(CRM_EXPORT)
    (folder / "cut.xml").write_text(CRM_EXPORT[: CRM_EXPORT.index('  <customer customer_id="C2')])
    bomb = '<!DOCTYPE c [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
    (folder / "bomb.xml").write_text(bomb + "\n<c><customer><name>&b;</name></customer></c>\n")
    before = snapshot(tmp_path / "landing")
    report = ingest(tmp_path, CUSTOMERS)
    status = {Path(o.path).name: (o.status, o.reason, o.rows) for o in report.outcomes}
    assert status["crm.xml"] == ("ingested", "", 2)
    assert status["cut.xml"][:2] == (
        "quarantined",
        "malformed XML at line 12, column 1: the file ends inside <{urn:example:crm}customers> "
        "(truncated?): no element found",
    )
    assert status["bomb.xml"][0] == "quarantined"
    assert status["bomb.xml"][1].startswith("refused XML at line 1, column ")
    assert "declares the internal entity 'a'" in status["bomb.xml"][1]
    table = scan_table(tmp_path / "lake" / "customers").collect().sort("customer_id")
    assert table["name"].to_list() == ["Renée O\u2019Brien", "Bo Li"]
    assert table["email"].to_list() == ["renee@example.ie", "bo.li@example.com"]
    assert table["plan_type"].to_list() == ["pro", "free"]
    assert table["address"].to_list() == ["12 <Main> St & Co", None]
    assert table["account_created_date"][0].isoformat() == "2024-01-05"
    # 30 February does not cast: null, its text kept and the row flagged, as for any format.
    assert table["account_created_date"][1] is None
    assert json.loads(table["_ingest_errors"][1]) == {"account_created_date": "2024-02-30"}
    assert snapshot(tmp_path / "landing") == before


def test_a_misnamed_landing_folder_is_named_with_the_one_that_exists(tmp_path):
    """Files dropped in landing/weather-mixed/ for the dataset weather_mixed were never read,
    and nothing said so."""
    from assets.ingestion.candidates import missing_folder_hint

    (tmp_path / "weather-mixed").mkdir()
    (tmp_path / "orders").mkdir()
    hint = missing_folder_hint(tmp_path, "weather_mixed")
    assert hint is not None and "landing/weather-mixed/ does" in hint
    assert "source.folder" in hint
    assert missing_folder_hint(tmp_path, "orders") is None
    assert missing_folder_hint(tmp_path, "tickets") is None  # nothing like it: no noise
