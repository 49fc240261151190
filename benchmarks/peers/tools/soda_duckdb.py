"""The orders spec as Soda Core checks (SodaCL) on a DuckDB data source: counts per rule only.

    python soda_duckdb.py LANDING --today YYYY-MM-DD

Runs in the benchmark's throwaway environment (soda-core-duckdb; no project import). The
tables are loaded into DuckDB the way the hand-written SQL types them (``sql_split.staging_sql``:
casts, exact duplicates removed), then one scan runs a check per rule. Soda reports how many rows
break each check; it does not split the rows. Prints the counts as one JSON line.
"""

# pyright: reportMissingImports=false
# (soda is in the benchmark's throwaway environment, not the project's venv)

from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

import duckdb
from soda.scan import Scan

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sql_split import landing_files, staging_sql


def sodacl(today: date) -> str:
    """One check per rule, named as the pipeline names it; each must find no failing row."""
    midnight = f"{today.isoformat()} 00:00:00"
    required = ["order_id", "customer_id", "product_id", "quantity", "unit_price", "order_ts"]
    required += ["channel", "status"]
    lines = ["checks for orders:"]
    for c in ("quantity", "unit_price", "discount", "order_ts"):
        lines += [
            "  - failed rows:",
            f"      name: type:{c}",
            f"      fail condition: _tf_{c}",
        ]
    for c in required:
        lines += [f"  - missing_count({c}) = 0:", f"      name: required:{c}"]
    lines += [
        "  - invalid_count(quantity) = 0:",
        "      name: range:quantity",
        "      valid min: 1",
        "      valid max: 10000",
        "  - invalid_count(unit_price) = 0:",
        "      name: range:unit_price",
        "      valid min: 0",
        "  - invalid_count(discount) = 0:",
        "      name: range:discount",
        "      valid min: 0",
        "      valid max: 0.9",
        "  - failed rows:",
        "      name: range:order_ts",
        "      fail condition: order_ts < TIMESTAMP '2000-01-01' OR "
        f"order_ts > TIMESTAMP '{midnight}'",
        "  - invalid_count(channel) = 0:",
        "      name: allowed:channel",
        "      valid values: [web, mobile, store, partner]",
        "  - invalid_count(status) = 0:",
        "      name: allowed:status",
        "      valid values: [completed, returned, cancelled]",
        "  - duplicate_count(order_id) = 0:",
        "      name: unique:order_id",
        "  - values in (customer_id) must exist in customers (customer_id):",
        "      name: fk:customer_id->customers",
        "  - values in (product_id) must exist in products (product_id):",
        "      name: fk:product_id->products",
        "  - failed rows:",
        "      name: rule:unit_price_within_list_price",
        "      fail query: |",
        "        SELECT o.order_id FROM orders o JOIN list_prices l ON l.product_id = o.product_id",
        "        WHERE o.unit_price > l.list_price * 1.5",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("landing", type=Path)
    p.add_argument("--today", type=date.fromisoformat, required=True)
    args = p.parse_args()
    con = duckdb.connect()
    staging = staging_sql(landing_files(args.landing))
    for table, query in {
        "orders": "SELECT * EXCLUDE (_key_seen) FROM kept",
        "customers": "SELECT customer_id FROM customers",
        "products": "SELECT product_id, list_price FROM products_raw",
        "list_prices": "SELECT * FROM list_prices",
    }.items():
        con.execute(f"CREATE TABLE {table} AS {staging} {query}")
    scan = Scan()
    scan.set_data_source_name("duckdb")
    scan.add_duckdb_connection(con, data_source_name="duckdb")
    scan.set_scan_definition_name("orders_spec")
    scan.add_sodacl_yaml_str(sodacl(args.today))
    scan.execute()
    if scan.has_error_logs():
        raise SystemExit(scan.get_error_logs_text())
    results = scan.get_scan_results()
    failures = {}
    for check in results["checks"]:
        value = (check.get("diagnostics") or {}).get("value")
        failures[check["name"]] = int(value) if value is not None else None
    rows_in = con.execute("SELECT count(*) FROM orders").fetchone()
    json.dump(
        {
            "rows_checked": rows_in[0] if rows_in else None,
            "rule_failures": {k: v for k, v in sorted(failures.items()) if v},
            "checks": len(failures),
            "checks_failed": sum(1 for c in results["checks"] if c.get("outcome") == "fail"),
        },
        sys.stdout,
    )
    print()


if __name__ == "__main__":
    main()
