"""Sample data for an empty landing zone: a seeded generator batch moved into the landing folders.

Each batch's files get new names (prefixed by the batch), so existing landing files are never
overwritten. The manifest and its defect labels go to ``_manifests/``, which no dataset reads.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assets.core.s3 import is_s3_uri, join_key, split_s3_uri
from assets.core.spec import BUILTIN_CATALOG_DIR
from assets.generator import GeneratorConfig, generate_dataset
from assets.generator.core import DEFECTS_FILE
from assets.generator.defects import DEFECT_KINDS
from assets.ingestion.candidates import ObjectStore, s3_candidates

MANIFESTS = "_manifests"


def builtin_dataset_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN_CATALOG_DIR.glob("*.yaml"))


def landing_has_files(landing_root: Path, folder: str) -> bool:
    """Whether ``landing_root/folder`` holds any data file (hidden and in-progress ones aside)."""
    base = landing_root / folder
    return base.is_dir() and any(
        p.is_file() and not p.name.startswith((".", "_")) for p in base.rglob("*")
    )


def occupied_datasets(names: list[str], landing_root: str, s3: ObjectStore) -> list[str]:
    """The datasets among ``names`` that already have landing files (local or on S3)."""
    if is_s3_uri(landing_root):
        bucket, prefix = split_s3_uri(landing_root)
        return [n for n in names if s3_candidates(s3, bucket, prefix, n)]
    return [n for n in names if landing_has_files(Path(landing_root), n)]


def skip_reason(mode: str, occupied: list[str]) -> str | None:
    """Why no sample data is generated under ``mode`` (None: generate)."""
    if mode == "never":
        return "mode is never"
    if mode == "if_empty" and occupied:
        return f"landing files exist for {', '.join(occupied)}"
    return None


def generator_config(
    *,
    customers: int,
    orders: int,
    seed: int,
    defect_rate: float,
    duplicate_key_rate: float,
    file_format: str,
) -> GeneratorConfig:
    """The generator's configuration: one rate for every defect kind but duplicate keys."""
    return GeneratorConfig(
        customers=customers,
        orders=orders,
        seed=seed,
        defect_rates={
            k: (duplicate_key_rate if k == "duplicate_key" else defect_rate) for k in DEFECT_KINDS
        },
        fmt=file_format,
    )


@dataclass(frozen=True)
class SampleBatch:
    """What one generated batch put into the landing zone."""

    rows: int
    defects: int
    manifest_at: str
    row_counts: dict[str, int]


def land_sample_batch(
    cfg: GeneratorConfig,
    batch: str,
    landing_root: str,
    s3: ObjectStore,
    progress: Callable[[int, int], None] | None = None,
) -> SampleBatch:
    """Generate one batch and move it into the landing zone under ``<batch>-`` names.

    Locally the batch is generated in a hidden folder of the landing root and moved in with
    renames, so a landing file never appears half-written; on S3 each file is one upload.
    """
    on_s3 = is_s3_uri(landing_root)
    bucket, prefix = split_s3_uri(landing_root) if on_s3 else ("", "")
    root = Path(landing_root)
    staging_parent = None if on_s3 else root
    if staging_parent is not None:
        staging_parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=staging_parent, prefix=".generating-") as tmp:
        manifest: dict[str, Any] = generate_dataset(Path(tmp), cfg, progress=progress)
        for entity, files in manifest["files"].items():
            for rel in files:
                name = f"{batch}-{Path(rel).name}"
                if on_s3:
                    s3.upload(Path(tmp) / rel, bucket, join_key(prefix, entity, name))
                else:
                    target_dir = root / entity
                    target_dir.mkdir(parents=True, exist_ok=True)
                    os.replace(Path(tmp) / rel, target_dir / name)
        # The manifest names the labels file by its new name.
        labels = f"{batch}-{manifest['defects_file']}"
        manifest["defects_file"] = labels
        (Path(tmp) / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
        if on_s3:
            manifest_at = f"s3://{bucket}/{join_key(prefix, MANIFESTS, batch + '.json')}"
            s3.upload(Path(tmp) / DEFECTS_FILE, bucket, join_key(prefix, MANIFESTS, labels))
            s3.upload(
                Path(tmp) / "manifest.json", bucket, join_key(prefix, MANIFESTS, batch + ".json")
            )
        else:
            manifests = root / MANIFESTS
            manifests.mkdir(exist_ok=True)
            shutil.move(str(Path(tmp) / DEFECTS_FILE), manifests / labels)
            shutil.move(str(Path(tmp) / "manifest.json"), manifests / f"{batch}.json")
            manifest_at = str(manifests / f"{batch}.json")
    return SampleBatch(
        rows=sum(manifest["row_counts"].values()),
        defects=sum(sum(v.values()) for v in manifest["defect_counts"].values()),
        manifest_at=manifest_at,
        row_counts=manifest["row_counts"],
    )
