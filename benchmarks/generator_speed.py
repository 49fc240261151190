"""Generator throughput to Parquet: customers/s and orders/s, with peak RSS.

    .venv/bin/python -m benchmarks.generator_speed --customers 500000 --orders 10000000

Customers and orders are timed separately (each run generates only what it times, with the
minimum of the other entities), with defects off, since the targets are about clean volume.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from assets.ingestion.generator import GeneratorConfig, generate_dataset


def _timed(cfg: GeneratorConfig) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        generate_dataset(Path(tmp), cfg)
        return time.perf_counter() - started


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=500_000)
    p.add_argument("--orders", type=int, default=10_000_000)
    args = p.parse_args()
    # Warm the Faker pools so their one-off cost (about 2 s) is not charged to either figure.
    few = {"support_tickets": 1, "usage_events": 1}
    _timed(GeneratorConfig(customers=1000, orders=1, **few))
    c_s = _timed(GeneratorConfig(customers=args.customers, orders=1, **few))
    base = _timed(GeneratorConfig(customers=10_000, orders=1, **few))
    o_s = _timed(GeneratorConfig(customers=10_000, orders=args.orders, **few))
    o_only = max(o_s - base, 1e-9)
    result = {
        "customers": args.customers,
        "customers_seconds": round(c_s, 2),
        "customers_per_second": round(args.customers / c_s),
        "orders": args.orders,
        "orders_seconds": round(o_only, 2),
        "orders_per_second": round(args.orders / o_only),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
