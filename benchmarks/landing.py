"""The benchmark's input: generated landing CSVs per scale, and what they hold."""

from __future__ import annotations

from pathlib import Path

# (customers, orders) per scale.
SCALES = {
    "tiny": (1_000, 10_000),
    "small": (10_000, 200_000),
    "medium": (100_000, 2_000_000),
    "large": (500_000, 10_000_000),
    "xl": (2_500_000, 50_000_000),
}


def csv_bytes(landing: Path) -> int:
    return sum(p.stat().st_size for p in landing.rglob("*.csv"))


def source_rows(landing: Path) -> int:
    """Data rows in every entity's CSV files (Polars counts them from the lines alone)."""
    import polars as pl

    total = 0
    for folder in sorted(p for p in landing.iterdir() if p.is_dir()):
        files = sorted(folder.glob("*.csv"))
        if files:
            scans = [pl.scan_csv(f, infer_schema=False) for f in files]
            total += pl.concat(scans, how="diagonal").select(pl.len()).collect().item()
    return total


def generate(workdir: Path, scale: str) -> Path:
    """Generate ``scale``'s CSVs under ``workdir/landing``; the manifest and the planted defects
    go beside it, so the landing folder holds only what the contenders read."""
    from assets.generator import GeneratorConfig, generate_dataset
    from assets.generator.core import DEFECTS_FILE
    from assets.generator.defects import DEFECT_KINDS

    customers, orders = SCALES[scale]
    landing = workdir / "landing"
    generate_dataset(
        landing,
        GeneratorConfig(
            customers=customers,
            orders=orders,
            fmt="csv",
            # Every defect kind but duplicate_key, which would fail the key gate and stop the
            # later stages the benchmark times.
            defect_rates=dict.fromkeys(set(DEFECT_KINDS) - {"duplicate_key"}, 0.002),
        ),
    )
    (landing / "manifest.json").rename(workdir / "manifest.json")
    (landing / DEFECTS_FILE).rename(workdir / DEFECTS_FILE)
    return landing
