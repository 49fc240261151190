"""The one-big-file benchmark still runs end to end (a smoke test: it asserts no timing)."""

import json

import pytest

from benchmarks import big_file


@pytest.mark.e2e
def test_big_file_benchmark_ingests_one_joined_file(tmp_path, capsys):
    big_file.main(["--gb", "0.01", "--workdir", str(tmp_path)])
    out = capsys.readouterr().out
    report = json.loads(out[out.index("{") :])
    assert report["file_mb"] >= 10
    assert set(report["contenders"]) == {"pipeline", "duckdb_floor", "polars_floor"}


def test_the_big_file_joins_the_chunks_with_one_header(tmp_path):
    # Chunks of 20k rows: seven files joined, each header but the first left out.
    path = big_file.big_orders_file(tmp_path / "landing", 0.01, chunk_rows=20_000)
    lines = path.read_text().splitlines()
    assert lines[0].startswith("order_id") and not any(
        line.startswith("order_id") for line in lines[1:]
    )
    orders = int(0.01 * big_file.ROWS_PER_GB * 1.05)  # plus the exact duplicates injected
    assert orders <= len(lines) - 1 <= orders * 1.01
