"""The generator: determinism, referential integrity, and a manifest that matches the data."""

import gzip
import hashlib
import json
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from assets.core.writers import FORMATS, write_frame, write_lazy
from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.cli import main as cli_main
from assets.generator.core import _bin_of, _ids, _pick_cum, _weighted_pick
from assets.generator.defects import DEFECT_KINDS

ALL = dict.fromkeys(DEFECT_KINDS, 0.02)


def _digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _read(folder: Path, entity: str) -> pl.DataFrame:
    return pl.concat([pl.read_parquet(p) for p in sorted((folder / entity).glob("*.parquet"))])


def _read_text(folder: Path, entity: str) -> pl.DataFrame:
    return pl.concat(
        [pl.read_csv(p, infer_schema=False) for p in sorted((folder / entity).glob("*.csv"))]
    )


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_same_seed_gives_the_same_bytes(tmp_path, fmt):
    cfg = GeneratorConfig(customers=300, orders=3000, defect_rates=ALL, fmt=fmt, chunk_rows=1000)
    generate_dataset(tmp_path / "a", cfg)
    generate_dataset(tmp_path / "b", cfg)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    other = GeneratorConfig(
        customers=300, orders=3000, defect_rates=ALL, fmt=fmt, chunk_rows=1000, seed=8
    )
    generate_dataset(tmp_path / "c", other)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")


def test_chunks_built_on_threads_land_in_their_own_files_in_order(tmp_path):
    generate_dataset(tmp_path, GeneratorConfig(customers=300, orders=7000, chunk_rows=1000))
    files = sorted((tmp_path / "orders").glob("*.parquet"))
    assert len(files) == 7
    for i, path in enumerate(files):
        ids = pl.read_parquet(path)["order_id"]
        assert ids.to_list() == [f"O{n:010d}" for n in range(i * 1000 + 1, i * 1000 + 1001)]


@pytest.mark.parametrize(("start", "n", "width"), [(1, 3, 4), (9_997, 3, 4), (9_998, 4, 4)])
def test_sequential_ids_are_zero_padded_and_keep_every_digit_past_the_width(start, n, width):
    expected = [f"X{i:0{width}d}" for i in range(start, start + n)]
    assert _ids("X", start, n, width).to_list() == expected


@settings(max_examples=200, deadline=None)
@given(
    weights=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e3)), min_size=1, max_size=40).filter(
        lambda w: sum(w) > 0
    ),
    fractions=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=50),
    guide_size=st.sampled_from([1, 3, 64, 8192]),
)
def test_the_guided_bin_search_agrees_with_searchsorted(weights, fractions, guide_size):
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    # Values drawn inside the range, plus every edge itself (zero weights repeat an edge).
    x = np.concatenate([np.asarray(fractions) * cum[-1], cum])
    expected = np.searchsorted(cum, x, side="right") - 1
    assert np.array_equal(_bin_of(cum, x, guide_size), expected)


@pytest.mark.parametrize("n", [50_000, 400_000])  # fewer picks than weights, and more
@pytest.mark.parametrize("by", ["weights", "running sum"])
def test_weighted_picks_follow_the_weights_and_never_land_on_a_zero_weight(n, by):
    rng = np.random.default_rng(3)
    weights = rng.pareto(1.5, 100_000)
    weights[rng.random(len(weights)) < 0.3] = 0.0  # a third of the weights are zero
    weights[-5:] = 0.0  # zero weights at the end, where rounding at the total lands
    if by == "weights":
        picks = _weighted_pick(np.random.default_rng(11), weights, n)
    else:
        picks = _pick_cum(np.random.default_rng(11), np.cumsum(weights), n)
    assert len(picks) == n
    assert (weights[picks] > 0).all()
    # Bucketed into 20 groups of equal weight, each holds 1/20 of the picks, within 5 sigma.
    group = np.minimum((np.cumsum(weights) / weights.sum() * 20).astype(int), 19)
    counts = np.bincount(group[picks], minlength=20)
    share = np.bincount(group, weights=weights, minlength=20) / weights.sum()
    sigma = np.sqrt(n * share * (1 - share))
    assert (np.abs(counts - n * share) < 5 * sigma).all()
    # Picks come in random order, not ascending as they are drawn.
    assert not (np.diff(picks) >= 0).all()


def test_foreign_keys_are_valid_and_nothing_is_injected_at_zero_rates(tmp_path):
    m = generate_dataset(tmp_path, GeneratorConfig(customers=500, orders=8000, chunk_rows=3000))
    assert m["defect_counts"] == {}
    assert pl.read_parquet(tmp_path / m["defects_file"]).height == 0
    customers = _read(tmp_path, "customers")
    products = _read(tmp_path, "products")
    assert customers["customer_id"].is_unique().all()
    for entity in ("orders", "support_tickets", "usage_events"):
        frame = _read(tmp_path, entity)
        assert frame.height == m["row_counts"][entity]
        assert frame["customer_id"].is_in(customers["customer_id"].implode()).all()
    assert _read(tmp_path, "orders")["product_id"].is_in(products["product_id"].implode()).all()
    # No activity before the account existed.
    orders = _read(tmp_path, "orders").join(customers, on="customer_id")
    assert (orders["order_ts"].dt.date() >= orders["account_created_date"]).all()


def test_customers_are_written_in_chunks_with_the_same_rows(tmp_path):
    # Customers are built a slice at a time so memory does not grow with them; the slices
    # together are the table one slice would have made, and every id is there once.
    whole = generate_dataset(tmp_path / "one", GeneratorConfig(customers=2500, orders=100))
    sliced = generate_dataset(
        tmp_path / "three", GeneratorConfig(customers=2500, orders=100, chunk_rows=1000)
    )
    assert len(whole["files"]["customers"]) == 1 and len(sliced["files"]["customers"]) == 3
    one, three = _read(tmp_path / "one", "customers"), _read(tmp_path / "three", "customers")
    assert three.height == 2500 and three["customer_id"].is_unique().all()
    assert three.equals(one)


def test_realism_emails_derive_from_names_and_cities_lie_in_their_country(tmp_path):
    generate_dataset(tmp_path, GeneratorConfig(customers=2000, orders=100))
    customers = _read(tmp_path, "customers")
    cities = pl.read_csv(Path("assets/core/reference/cities.csv"))
    joined = customers.join(cities, on=["country_code", "city"], how="left", coalesce=True)
    assert joined["region_right"].null_count() == 0
    local = customers["email"].str.split("@").list.first()
    assert (local.str.contains(r"^[a-z0-9]+\.[a-z0-9]+[0-9]{0,2}$")).all()
    assert customers["plan_type"].is_in(["free", "basic", "pro", "enterprise"]).all()


def test_manifest_matches_the_data_for_every_defect_kind(tmp_path):
    cfg = GeneratorConfig(
        customers=1000, orders=10000, defect_rates=ALL, fmt="csv", chunk_rows=4000
    )
    m = generate_dataset(tmp_path, cfg)
    labelled = pl.read_parquet(tmp_path / m["defects_file"])
    # The labels are written a chunk at a time; the manifest's counts are the labels' counts.
    counted = labelled.group_by("entity", "kind").len().rows()
    assert {(e, k): n for e, k, n in counted} == {
        (e, k): n for e, kinds in m["defect_counts"].items() for k, n in kinds.items()
    }
    assert labelled["entity"].n_unique() == 5 and m["row_counts"]["orders"] > cfg.chunk_rows
    got = {
        (r["entity"], r["kind"]): r["len"]
        for r in labelled.group_by("entity", "kind").len().to_dicts()
    }

    customers = _read_text(tmp_path, "customers")
    products = _read_text(tmp_path, "products")
    orders = _read_text(tmp_path, "orders")
    tickets = _read_text(tmp_path, "support_tickets")
    events = _read_text(tmp_path, "usage_events")
    cust_ids = customers["customer_id"].unique().implode()
    prod_ids = products["product_id"].unique().implode()

    def dup_rows(df: pl.DataFrame) -> int:
        return df.height - df.unique().height

    def dup_keys(df: pl.DataFrame, key: str) -> int:
        distinct = df.unique()
        return distinct.height - distinct[key].n_unique()

    # Counted from the files alone, independently of the injector.
    measured = {
        ("customers", "exact_duplicate"): dup_rows(customers),
        ("customers", "duplicate_key"): dup_keys(customers, "customer_id"),
        ("customers", "malformed_email"): customers["email"].str.contains(" at ").sum(),
        ("customers", "malformed_phone"): customers["phone"].str.contains("x").sum(),
        ("customers", "null_required"): customers.select(
            pl.any_horizontal(pl.col("email", "plan_type", "country").is_null()).sum()
        ).item(),
        ("customers", "out_of_range"): (customers["birth_date"] > date.today().isoformat()).sum(),
        ("orders", "exact_duplicate"): dup_rows(orders),
        ("orders", "duplicate_key"): dup_keys(orders, "order_id"),
        ("orders", "orphan_fk"): (~orders["customer_id"].is_in(cust_ids)).sum()
        + (~orders["product_id"].is_in(prod_ids)).sum(),
        ("orders", "wrong_type"): (orders["quantity"] == "#VALUE!").sum(),
        ("orders", "out_of_range"): (orders["quantity"].cast(pl.Int64, strict=False) < 0).sum(),
        ("orders", "outlier"): (orders["quantity"].cast(pl.Int64, strict=False) >= 50).sum(),
        ("support_tickets", "inconsistent"): (tickets["closed_ts"] < tickets["opened_ts"]).sum(),
        ("support_tickets", "orphan_fk"): (~tickets["customer_id"].is_in(cust_ids)).sum(),
        ("usage_events", "outlier"): (
            events["duration_s"].cast(pl.Float64, strict=False) > 10_000
        ).sum(),
        ("usage_events", "wrong_type"): (events["duration_s"] == "#VALUE!").sum(),
    }
    for key, n in measured.items():
        assert n == got[key], key
    # Row counts in the manifest are the rows in the files.
    for entity, frame in [("customers", customers), ("orders", orders), ("usage_events", events)]:
        assert frame.height == m["row_counts"][entity]
    # Every labelled key exists in its entity's data.
    keyed = {"customers": (customers, "customer_id"), "orders": (orders, "order_id")}
    for entity, (frame, key) in keyed.items():
        keys = labelled.filter(pl.col("entity") == entity)["key"]
        assert keys.is_in(frame[key].implode()).all()
    saved = json.loads((tmp_path / "manifest.json").read_text())
    assert saved["planted"]["price_elasticity"]["electronics"] < 0
    assert len(saved["planted"]["daily_revenue_anomalies"]) == cfg.anomaly_days


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_round_trips_through_the_cli(tmp_path, fmt, capsys):
    rc = cli_main(
        ["--out", str(tmp_path), "--customers", "200", "--orders", "1500", "--format", fmt]
    )
    assert rc == 0
    assert "wrote customers 200" in capsys.readouterr().out
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    for entity, files in manifest["files"].items():
        for rel in files:
            path = tmp_path / rel
            assert path.name.endswith(fmt)
            frame = {
                "parquet": pl.read_parquet,
                "csv": pl.read_csv,
                "csv.gz": pl.read_csv,
                "ndjson": pl.read_ndjson,
                "json": pl.read_json,
            }.get(fmt)
            if frame is not None:
                assert frame(path).height == manifest["row_counts"][entity]
            else:  # xml: one <record> per row
                assert path.read_text().count("<record>") == manifest["row_counts"][entity]


def test_cli_refuses_bad_options_with_the_field(capsys):
    assert cli_main(["--out", "/tmp/x", "--customers", "3"]) == 2
    assert "customers: at least 10" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_table_written_in_batches_is_the_table_written_whole(tmp_path, fmt):
    # The exports write large tables streamed or a batch at a time (so memory does not grow
    # with them); the file must say what write_frame's would, whatever the batch size.
    frame = pl.DataFrame(
        {
            "id": [f"k{i}" for i in range(23)],
            "x": [i * 0.5 if i % 5 else None for i in range(23)],
            "day": [date(2025, 1, 1 + i % 28) for i in range(23)],
            "text": ["a<b & c" if i == 3 else f"t{i}" for i in range(23)],
        }
    ).with_columns(pl.col("day").cast(pl.Datetime("us")).alias("ts"))
    whole, batched = tmp_path / "t" / f"whole.{fmt}", tmp_path / "t" / f"batched.{fmt}"
    write_frame(frame, whole, fmt)
    assert write_lazy(frame.lazy(), batched, fmt, batch_rows=7) == 23
    if fmt == "parquet":
        assert pl.read_parquet(batched).equals(pl.read_parquet(whole))
    elif fmt == "csv.gz":
        assert gzip.decompress(batched.read_bytes()) == gzip.decompress(whole.read_bytes())
    else:
        assert batched.read_bytes() == whole.read_bytes()
    assert {p.name for p in batched.parent.iterdir()} == {whole.name, batched.name}  # no temp


@pytest.mark.parametrize(
    ("customers", "orders", "chunk_rows", "fmt"),
    [(2000, 20000, 1_000_000, "csv"), (300, 3000, 1000, "csv"), (300, 2500, 1000, "parquet")],
)
def test_progress_announces_the_rows_it_writes_and_ends_at_exactly_100(
    tmp_path, customers, orders, chunk_rows, fmt
):
    # Planted duplicates add rows: the announced total counts them, so it never passes 100%.
    seen: list[tuple[int, int]] = []
    cfg = GeneratorConfig(
        customers=customers, orders=orders, defect_rates=ALL, fmt=fmt, chunk_rows=chunk_rows
    )
    manifest = generate_dataset(
        tmp_path, cfg, progress=lambda done, total: seen.append((done, total))
    )
    written = sum(manifest["row_counts"].values())
    assert written > customers + orders  # duplicates were planted
    assert {total for _, total in seen} == {written}
    assert seen[-1][0] == written
    assert all(done <= total for done, total in seen)
