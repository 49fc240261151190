"""Validation against ground truth: per-defect-kind precision and recall from the generator.

    .venv/bin/python -m benchmarks.validation_accuracy --rates 0.005 0.02 0.05

Generates data with known defects, runs ingestion and validation exactly as the assets do (the
same functions), and compares what was flagged with what the manifest says was planted.
"""

from __future__ import annotations

import argparse
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from assets.core.spec import DatasetSpec, LookupCompareRule, load_catalog
from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.defects import DEFECT_KINDS, KEYS
from assets.ingestion.landing import ingest_landing_folder, scan_table
from assets.validation.flagging import flag_rows
from assets.validation.outliers import flag_outliers, outlier_fences
from assets.validation.rules import EXACT_DUP, OUTLIERS, RULES, trusted_reference

RULE_TO_KIND = {
    "type": "wrong_type",
    "required": "null_required",
    "range": "out_of_range",
    "unique": "duplicate_key",
    "fk": "orphan_fk",
    "rule": "inconsistent",
    "outlier": "outlier",
    "allowed": "not_allowed",
}


def defect_kind(rule: str) -> str:
    prefix, _, column = rule.partition(":")
    if prefix == "pattern":
        return {"email": "malformed_email", "phone": "malformed_phone"}.get(column, "pattern")
    return RULE_TO_KIND.get(prefix, prefix)


def flag_dataset(
    raw: dict[str, pl.LazyFrame], spec: DatasetSpec, catalog: dict[str, DatasetSpec]
) -> pl.DataFrame:
    today = datetime.now(UTC).date()
    lookups = {
        r.references: trusted_reference(
            raw[r.references], catalog[r.references], r.ref_column, today
        )
        for r in spec.rules
        if isinstance(r, LookupCompareRule)
    }
    parents = {fk.references: raw[fk.references] for fk in spec.foreign_keys}
    flagged = (
        flag_rows(raw[spec.name], spec, parent_keys=parents, lookups=lookups, today=today)
        .rows()
        .collect()
    )
    fences = outlier_fences(flagged.lazy(), spec)
    return flag_outliers(flagged.lazy(), spec, fences, cap=False).collect()


def detected(flagged: pl.DataFrame, entity: str) -> pl.DataFrame:
    """(key, kind) pairs the validation flagged, exact duplicates included."""
    key = KEYS[entity]
    by_rule = (
        flagged.filter(~pl.col(EXACT_DUP))
        .select(
            pl.col(key).cast(pl.String).alias("key"), pl.concat_list(RULES, OUTLIERS).alias("rule")
        )
        .explode("rule")
        .drop_nulls("rule")
        .with_columns(
            pl.col("rule").map_elements(defect_kind, return_dtype=pl.String).alias("kind")
        )
        .select("key", "kind")
    )
    dups = flagged.filter(pl.col(EXACT_DUP)).select(
        pl.col(key).cast(pl.String).alias("key"), pl.lit("exact_duplicate").alias("kind")
    )
    return pl.concat([by_rule, dups]).unique()


def accuracy(workdir: Path, cfg: GeneratorConfig) -> pl.DataFrame:
    """One row per (entity, kind): planted, flagged, precision, recall."""
    manifest = generate_dataset(workdir / "landing", cfg)
    catalog = load_catalog()
    raw = {}
    for name, spec in catalog.items():
        ingest_landing_folder(
            spec,
            landing_root=workdir / "landing",
            table_dir=workdir / "lake" / name,
            ledger_path=workdir / "state" / f"{name}.parquet",
            quarantine_dir=workdir / "quarantine" / name,
        )
        raw[name] = scan_table(workdir / "lake" / name)
    truth = pl.read_parquet(workdir / "landing" / manifest["defects_file"])
    rows = []
    for name, spec in catalog.items():
        found = detected(flag_dataset(raw, spec, catalog), name)
        planted = truth.filter(pl.col("entity") == name).select("key", "kind").unique()
        for kind in sorted(set(found["kind"]) | set(planted["kind"])):
            a = set(found.filter(pl.col("kind") == kind)["key"])
            b = set(planted.filter(pl.col("kind") == kind)["key"])
            rows.append(
                {
                    "entity": name,
                    "kind": kind,
                    "planted": len(b),
                    "flagged": len(a),
                    "precision": round(len(a & b) / len(a), 4) if a else 1.0,
                    "recall": round(len(a & b) / len(b), 4) if b else 1.0,
                }
            )
    return pl.DataFrame(
        rows,
        schema={
            "entity": pl.String,
            "kind": pl.String,
            "planted": pl.Int64,
            "flagged": pl.Int64,
            "precision": pl.Float64,
            "recall": pl.Float64,
        },
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rates", type=float, nargs="+", default=[0.005, 0.02, 0.05])
    p.add_argument("--customers", type=int, default=5_000)
    p.add_argument("--orders", type=int, default=50_000)
    p.add_argument("--format", default="csv")
    args = p.parse_args()
    pl.Config.set_tbl_rows(200)
    for rate in [0.0, *args.rates]:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = GeneratorConfig(
                customers=args.customers,
                orders=args.orders,
                fmt=args.format,
                defect_rates=dict.fromkeys(DEFECT_KINDS, rate),
            )
            table = accuracy(Path(tmp), cfg)
        flagged, planted = table["flagged"].sum(), table["planted"].sum()
        print(f"\ndefect rate {rate}: {flagged} flagged, {planted} planted")
        print(table)


if __name__ == "__main__":
    main()
