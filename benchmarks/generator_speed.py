"""Generator throughput to Parquet: customers/s and orders/s, with peak RSS.

    .venv/bin/python -m benchmarks.generator_speed --customers 500000 --orders 10000000

One run generates both, with 20 orders per customer as in the issue's example (100k customers,
2M orders) and defects off, since the targets are about clean volume. Each phase is timed from
the generator's progress callback, which fires as each file is written: customers from the
start to the customers file (their Faker-grade fields are drawn then), orders from the products
file to the last orders file. Tickets and events are left at one row each.

It also prints ``orders_per_second_10k_customers``: the same orders for only 10,000 customers
(1,000 orders each). Customer keys then repeat more, so picking, looking up and encoding them
costs less; the gap between the two figures is what many customers cost.
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

from assets.generator import GeneratorConfig, generate_dataset


def phase_seconds(cfg: GeneratorConfig) -> tuple[float, float]:
    """(customers phase, orders phase) wall seconds of one generator run to Parquet."""
    marks: list[tuple[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        generate_dataset(
            Path(tmp), cfg, progress=lambda done, _: marks.append((done, time.perf_counter()))
        )

    def at(rows: int) -> float:
        return next(t for done, t in marks if done >= rows)

    customers_done = at(cfg.customers)
    products_done = at(cfg.customers + cfg.n_products)
    orders_done = at(cfg.customers + cfg.n_products + cfg.orders)
    return customers_done - started, orders_done - products_done


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--customers", type=int, default=500_000)
    p.add_argument("--orders", type=int, default=10_000_000)
    args = p.parse_args()
    few = {"support_tickets": 1, "usage_events": 1}
    # Warm the Faker pools so their one-off cost (about 2 s) is not charged to either figure.
    phase_seconds(GeneratorConfig(customers=1000, orders=1, **few))
    c_s, o_s = phase_seconds(GeneratorConfig(customers=args.customers, orders=args.orders, **few))
    _, o_10k = phase_seconds(GeneratorConfig(customers=10_000, orders=args.orders, **few))
    result = {
        "customers": args.customers,
        "customers_seconds": round(c_s, 2),
        "customers_per_second": round(args.customers / c_s),
        "orders": args.orders,
        "orders_seconds": round(o_s, 2),
        "orders_per_second": round(args.orders / o_s),
        "orders_per_second_10k_customers": round(args.orders / o_10k),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
