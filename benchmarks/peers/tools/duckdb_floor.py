"""The floor: DuckDB alone, the three tables' CSV files to Parquet with type inference, no rules.

    python duckdb_floor.py LANDING OUT_DIR

Runs in the benchmark's throwaway environment (DuckDB only). Prints the rows written as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("landing", type=Path)
    p.add_argument("out", type=Path)
    args = p.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = {}
    with duckdb.connect() as con:
        for entity in ("customers", "products", "orders"):
            files = [str(f) for f in sorted((args.landing / entity).glob("*.csv"))]
            target = str(args.out / f"{entity}.parquet").replace("'", "''")
            written = con.execute(
                f"COPY (SELECT * FROM read_csv(?, union_by_name = true)) TO '{target}' "  # noqa: S608
                "(FORMAT parquet, COMPRESSION zstd)",
                [files],
            ).fetchone()
            rows[entity] = written[0] if written else None
    json.dump({"rows_written": rows}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
