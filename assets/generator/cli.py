"""``pipeline-generate``: write seeded synthetic data in the landing-zone layout."""

from __future__ import annotations

import argparse
import sys
import time
from datetime import date
from pathlib import Path

from assets.core.writers import FORMATS
from assets.generator.core import GeneratorConfig, generate_dataset
from assets.generator.defects import DEFECT_KINDS


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="pipeline-generate",
        description="Write customers, products, orders, support_tickets and usage_events into "
        "OUT/<entity>/, with manifest.json recording every planted defect and effect.",
    )
    p.add_argument("--out", type=Path, required=True, help="output folder (landing-zone layout)")
    p.add_argument("--customers", type=int, default=2_000)
    p.add_argument("--orders", type=int, default=20_000)
    p.add_argument("--products", type=int, default=None, help="default: customers/50, min 50")
    p.add_argument("--tickets", type=int, default=None, help="default: two per customer")
    p.add_argument("--events", type=int, default=None, help="default: as many as orders")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--format", choices=FORMATS, default="parquet", dest="fmt")
    p.add_argument("--start-date", type=date.fromisoformat, default=date(2024, 1, 1))
    p.add_argument("--end-date", type=date.fromisoformat, default=date(2025, 12, 31))
    p.add_argument(
        "--chunk-rows", type=int, default=1_000_000, help="rows per file for big entities"
    )
    p.add_argument("--defect-rate", type=float, default=0.0, help="rate for every defect kind")
    for kind in DEFECT_KINDS:
        p.add_argument(
            f"--rate-{kind.replace('_', '-')}",
            type=float,
            default=None,
            help=f"rate for {kind} (overrides --defect-rate)",
        )
    return p


def _bar(done: int, total: int) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} rows")
    sys.stderr.flush()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rates = {}
    for kind in DEFECT_KINDS:
        own = getattr(args, f"rate_{kind}")
        rate = args.defect_rate if own is None else own
        if rate:
            rates[kind] = rate
    try:
        cfg = GeneratorConfig(
            customers=args.customers,
            orders=args.orders,
            products=args.products,
            support_tickets=args.tickets,
            usage_events=args.events,
            seed=args.seed,
            start_date=args.start_date,
            end_date=args.end_date,
            defect_rates=rates,
            fmt=args.fmt,
            chunk_rows=args.chunk_rows,
        )
    except ValueError as exc:
        print(f"pipeline-generate: {exc}", file=sys.stderr)
        return 2
    started = time.perf_counter()
    manifest = generate_dataset(args.out, cfg, progress=_bar if sys.stderr.isatty() else None)
    if sys.stderr.isatty():
        sys.stderr.write("\n")
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{e} {n:,}" for e, n in manifest["row_counts"].items())
    print(f"wrote {counts} to {args.out} in {seconds:.1f}s; manifest: {args.out / 'manifest.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
