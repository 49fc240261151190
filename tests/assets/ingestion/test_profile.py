"""pipeline-profile: a draft spec that validates its own file and catches planted defects."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import polars as pl
import pytest
import yaml

from assets.core.spec import load_spec_file
from assets.generator import GeneratorConfig, generate_dataset
from assets.ingestion.profile import profile_table
from assets.ingestion.profiling.columns import shape_regex
from assets.ingestion.profiling.inference import infer_types
from pipeline_defs.settings import Settings
from tests.runs import datasets_of, materialize

PROFILE = str(Path(sys.executable).with_name("pipeline-profile"))


def test_types_follow_the_ingestion_parsers():
    lf = pl.LazyFrame(
        {
            "code": ["00123", "00456", None],
            "n": ["1", "2", "3"],
            "x": ["1.5", "2", ""],
            "flag": ["yes", "no", "Y"],
            "day": ["2024-01-02", "2024-02-03", "null"],
            "ts": ["2024-01-02T10:00:00", "2024-01-02 11:00:00", "2024-01-03"],
            "name": ["Ann", "Bob", "Cy"],
        }
    )
    assert infer_types(lf) == {
        "code": "string",
        "n": "integer",
        "x": "float",
        "flag": "boolean",
        "day": "date",
        "ts": "datetime",
        "name": "string",
    }


def test_draft_has_keys_null_rates_ranges_patterns_and_value_lists():
    n = 200
    lf = pl.LazyFrame(
        {
            "order_id": [f"ORD-{i:06d}" for i in range(n)],
            "email": [f"user{i}@example.com" for i in range(n)],
            "qty": [str(1 + i % 9) for i in range(n)],
            "channel": [["web", "store", "mobile"][i % 3] for i in range(n)],
            "note": [None if i % 4 else "x" for i in range(n)],
        }
    )
    profiled = profile_table(lf.collect(), "orders_x", "a frame")
    draft, evidence = profiled.draft.spec, profiled.draft.evidence
    cols = {c["name"]: c for c in draft["columns"]}  # type: ignore[union-attr]
    assert draft["key"] == ["order_id"]
    assert cols["order_id"]["unique"] and cols["order_id"]["pattern"] == "sku"
    assert cols["email"]["pattern"] == "email"
    assert (cols["qty"]["type"], cols["qty"]["min"], cols["qty"]["max"]) == ("integer", 1, 9)
    assert cols["channel"]["allowed"] == ["mobile", "store", "web"]
    assert "required" not in cols["note"] and evidence["note"].startswith("75.0% null")


def test_r_export_na_numbers_and_z_timestamps_are_drafted_typed():
    """nycflights13 as R writes it: NA for missing, instants in UTC with a Z."""
    lf = pl.LazyFrame(
        {
            "dep_time": ["517", "NA", "533", "NA"],
            "dep_delay": ["2", "NA", "-4.5", "11"],
            "arr_delay": ["11", "-", "--", "20"],  # tokens outside the default list
            "tailnum": ["N14228", "NA", "N24211", "N14228"],
            "carrier": ["UA", "UA", "NA", "UA"],
            "time_hour": [
                "2013-01-01T10:00:00Z",
                "2013-01-01T11:00:00Z",
                "2013-01-02T06:00:00+05:30",
                "NA",
            ],
        }
    )
    assert infer_types(lf) == {
        "dep_time": "integer",
        "dep_delay": "float",
        "arr_delay": "integer",
        "tailnum": "string",
        "carrier": "string",
        "time_hour": "datetime",
    }
    draft = profile_table(lf.collect(), "flights", "a frame").draft
    cols = {c["name"]: c for c in draft.spec["columns"]}  # type: ignore[union-attr]
    assert "required" not in cols["dep_time"] and "null_values" not in cols["dep_time"]
    assert draft.evidence["dep_time"].startswith("50.0% null")
    assert cols["arr_delay"]["null_values"] == [
        "",
        "NA",
        "N/A",
        "NaN",
        "null",
        "NULL",
        "None",
        "-",
        "--",
    ]
    assert draft.evidence["arr_delay"].startswith("50.0% null")
    assert draft.spec["null_values"] == ["NA"]
    assert cols["carrier"]["allowed"] == ["UA"]  # NA is missing, not a carrier
    assert (cols["time_hour"]["min"], cols["time_hour"]["max"]) == ("2013-01-01", "today")
    assert "required" not in cols["time_hour"]


def test_shape_regex_escapes_punctuation():
    assert shape_regex("A.9(9)") == r"^[A-Z]{1}\.[0-9]{1}\([0-9]{1}\)$"


def _validate(settings: Settings):
    return materialize(settings, datasets_of("shop_orders"))


@pytest.mark.e2e
def test_profiled_spec_validates_its_file_with_nothing_quarantined_then_catches_defects(
    tmp_path: Path,
):
    gen = tmp_path / "gen"
    generate_dataset(gen, GeneratorConfig(customers=300, orders=3000, fmt="csv", defect_rates={}))
    source = next((gen / "orders").glob("*.csv"))
    datasets = tmp_path / "datasets"
    done = subprocess.run(
        [PROFILE, str(source), "--name", "shop_orders", "--out", str(datasets / "shop.yaml")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    spec = load_spec_file(datasets / "shop.yaml")
    assert spec.key == ["order_id"]
    assert spec.column_map["order_ts"].type == "datetime"
    assert spec.column_map["quantity"].type == "integer"
    assert spec.column_map["status"].allowed is not None

    settings = Settings.from_env(
        {"PIPELINE_DATA_DIR": str(tmp_path / "data"), "PIPELINE_DATASETS_DIR": str(datasets)}
    )
    landing = settings.data_dir / "landing" / "shop_orders"
    landing.mkdir(parents=True)
    shutil.copy(source, landing / "part-1.csv")
    assert _validate(settings).success

    def counts() -> tuple[int, list[tuple[str, str]]]:
        with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
            valid = con.execute("SELECT count(*) FROM validation.validated_shop_orders")
            n = valid.fetchone()[0]  # type: ignore[index]
            bad = con.execute(
                "SELECT order_id, _rules FROM validation.quarantined_shop_orders ORDER BY 1"
            ).fetchall()
        return n, bad

    rows = pl.read_csv(source, infer_schema=False)
    valid, bad = counts()
    assert (valid, bad) == (rows.height, [])

    # Planted afterwards, in a new file: each breaks one rule the profile wrote down.
    planted = rows.head(4).with_columns(
        pl.Series("order_id", ["ZZ-1", "NEW-000002", "NEW-000003", "NEW-000004"]),
    )
    planted = planted.with_columns(
        pl.when(pl.col("order_id") == "NEW-000002")
        .then(pl.lit("fax"))
        .otherwise(pl.col("channel"))
        .alias("channel"),
        pl.when(pl.col("order_id") == "NEW-000003")
        .then(pl.lit("99999999"))
        .otherwise(pl.col("quantity"))
        .alias("quantity"),
        pl.when(pl.col("order_id") == "NEW-000004")
        .then(pl.lit(None))
        .otherwise(pl.col("customer_id"))
        .alias("customer_id"),
    )
    planted.write_csv(landing / "part-2.csv")
    assert yaml.safe_load((datasets / "shop.yaml").read_text())["name"] == "shop_orders"
    _validate(settings)
    valid, bad = counts()
    assert valid == rows.height
    rules = {key: " ".join(names) for key, names in bad}
    assert set(rules) == {"ZZ-1", "NEW-000002", "NEW-000003", "NEW-000004"}
    assert "pattern" in rules["ZZ-1"]
    assert "channel" in rules["NEW-000002"]
    assert "quantity" in rules["NEW-000003"]
    assert "customer_id" in rules["NEW-000004"]


def test_an_unreadable_file_is_refused_with_its_reason(tmp_path: Path, capsys):
    from assets.ingestion.profile import main

    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(SystemExit) as exit_:
        main([str(empty), "--name", "x"])
    assert exit_.value.code == 2
    assert f"{empty}: no content: the file is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(empty), "--name", "Bad Name"])


FLIGHTS = Path(__file__).resolve().parents[3] / "examples/real/nycflights13/landing/flights"


def test_rows_profiles_the_first_rows_and_says_so_in_the_draft(tmp_path: Path):
    [csv] = sorted(FLIGHTS.glob("*.csv"))
    out = tmp_path / "flights.yaml"
    done = subprocess.run(
        [PROFILE, str(csv), "--name", "flights", "--rows", "500", "--out", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = out.read_text()
    assert "500 rows, the first rows only" in text
    assert "only the first 500 rows were read (--rows)" in text
    spec = load_spec_file(out)  # the draft still loads unedited
    assert spec.name == "flights"
    whole = subprocess.run(
        [PROFILE, str(csv), "--name", "flights"], capture_output=True, text=True, check=False
    )
    # A connection of its own: a result left on DuckDB's shared default connection (one row
    # fetched) blocks the next test in this process that uses it.
    with duckdb.connect() as con:
        rows = con.execute("SELECT count(*) FROM read_csv(?)", [str(csv)]).fetchone()[0]  # type: ignore[index]
    assert f"{rows:,} rows, every row read" in whole.stdout
    assert "(--rows)" not in whole.stdout
    refused = subprocess.run(
        [PROFILE, str(csv), "--name", "flights", "--rows", "0"], capture_output=True, text=True
    )
    assert refused.returncode == 2 and "must be a whole number of rows above 0" in refused.stderr


def test_files_too_big_for_memory_are_refused_with_rows_that_fit(tmp_path: Path):
    """A folder's datasets are held together, so the rows suggested must fit for all of them;
    a gzip file counts for the text it holds, a Parquet file for its decoded pages."""
    import gzip

    from assets.ingestion.profiling.memory import holding, memory_refusal

    rows = 20_000
    text = "id,name\n" + "".join(f"{i},name-{i:06d}\n" for i in range(rows))
    folders = []
    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
        (tmp_path / name / f"{name}.csv").write_text(text)
        folders.append([tmp_path / name / f"{name}.csv"])
    zipped = tmp_path / "z.csv.gz"
    zipped.write_bytes(gzip.compress(text.encode()))
    parquet = tmp_path / "p.parquet"
    pl.read_csv(folders[0][0]).write_parquet(parquet)
    sets = [*folders, [zipped], [parquet]]
    need = sum(holding(s).need() for s in sets)
    assert holding([zipped]).need() == pytest.approx(holding(folders[0]).need(), rel=0.01)
    assert holding([parquet]).rows == rows
    assert memory_refusal(sets, available=int(need / 0.8) + 1) is None
    assert memory_refusal(sets, available=None) is None  # unknown: never refused
    available = int(need / 4)
    why = memory_refusal(sets, available)
    assert why is not None and "--rows" in why
    suggested = int(why.split("--rows ")[1].split()[0])
    assert 0 < suggested < rows
    # The first `suggested` rows of all six datasets together fit in the budget.
    assert sum(holding(s).need(suggested) for s in sets) <= 0.8 * available


def test_a_parquet_file_with_nested_columns_is_drafted_with_them_as_text(tmp_path: Path):
    path = tmp_path / "events.parquet"
    pl.DataFrame(
        {
            "event_id": [1, 2, 3, 4],
            "tags": [["a"], ["a", "b"], [], None],
            "meta": [{"k": 1}, {"k": 2}, {"k": 2}, None],
        }
    ).write_parquet(path)
    done = subprocess.run(
        [PROFILE, str(path), "--name", "events"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    draft = yaml.safe_load(done.stdout)
    types = {c["name"]: c["type"] for c in draft["columns"]}
    assert types == {"event_id": "integer", "tags": "string", "meta": "string"}
    assert draft["key"] == ["event_id"]
