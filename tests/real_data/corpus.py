"""The real-data corpus under examples/real/ and one real Dagster run of a set's specs over one of
its landing variants, shared by every test that reads it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb

from assets.core.spec import DatasetSpec, load_catalog
from pipeline_defs.settings import Settings
from tests.runs import datasets_of, materialize

REAL = Path(__file__).resolve().parents[2] / "examples" / "real"
# As the package gives it, and in R's write.csv convention (quoted text, NA for missing).
VARIANTS = ("landing", "landing_r")


def set_catalog(set_name: str) -> dict[str, DatasetSpec]:
    """The set's own specs, loaded as a user's specs directory is (the built-ins left out)."""
    specs_dir = REAL / set_name / "datasets"
    own = {p.stem for p in specs_dir.glob("*.yaml")}
    return {n: s for n, s in load_catalog([specs_dir]).items() if n in own}


def landing_file(set_name: str, variant: str, dataset: str) -> Path:
    (path,) = sorted((REAL / set_name / variant / dataset).iterdir())
    return path


def fingerprint(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@dataclass(frozen=True)
class SetRun:
    """One ingestion and validation of every dataset of a set from one landing variant."""

    set_name: str
    variant: str
    catalog: dict[str, DatasetSpec]
    result: dg.ExecuteInProcessResult
    warehouse: Path
    landing_before: dict[str, str]

    @property
    def landing(self) -> Path:
        return REAL / self.set_name / self.variant

    def file(self, dataset: str) -> Path:
        return landing_file(self.set_name, self.variant, dataset)

    def checks(self) -> dict[str, dg.AssetCheckEvaluation]:
        return {c.check_name: c for c in self.result.get_asset_check_evaluations()}

    def metadata(self, asset: str) -> dict[str, object]:
        for event in self.result.get_asset_materialization_events():
            if event.asset_key.to_user_string() == asset:
                return {k: v.value for k, v in event.materialization.metadata.items()}
        raise KeyError(asset)

    def attach(self, con: duckdb.DuckDBPyConnection) -> None:
        """The run's warehouse as ``wh`` (``wh.validation.validated_<name>`` ...)."""
        con.execute("ATTACH ? AS wh (READ_ONLY)", [str(self.warehouse)])


def run_set(set_name: str, variant: str, root: Path) -> SetRun:
    catalog = set_catalog(set_name)
    landing = REAL / set_name / variant
    settings = Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(root / "data"),
            "PIPELINE_DATASETS_DIR": str(REAL / set_name / "datasets"),
            "PIPELINE_LANDING_URI": str(landing),
        }
    )
    before = fingerprint(landing)
    result = materialize(settings, datasets_of(*catalog))
    return SetRun(set_name, variant, catalog, result, settings.warehouse_path, before)


SETS = ("nycflights13", "palmerpenguins", "us_employment", "la_riots", "sklearn_wide")

# SQL the oracle cannot derive from a spec, since the pipeline's expression grammar is not SQL:
# each derived column's value, and where each expression rule fails, per dataset, over the
# typed source columns (see oracle.load_source).
DERIVED_SQL: dict[str, dict[str, str]] = {}
EXPRESSION_SQL: dict[str, dict[str, str]] = {}
