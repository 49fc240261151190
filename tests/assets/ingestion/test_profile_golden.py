"""Drafts of every shape of data the project knows, kept as golden files: the real corpus in
examples/real/ and the built-in five generated without defects.

A change in what the profiler writes shows here as a diff to review; accept it with
``PIPELINE_UPDATE_GOLDEN=1 .venv/bin/pytest tests/assets/ingestion/test_profile_golden.py``.
"""

from __future__ import annotations

import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest

from assets.core.spec import load_catalog, load_spec_file
from assets.generator import GeneratorConfig, generate_dataset
from assets.ingestion.profile import profile_folder, to_yaml
from pipeline_defs.settings import Settings
from tests.real_data.corpus import REAL, SETS
from tests.runs import datasets_of, materialize

GOLDEN = Path(__file__).resolve().parent / "golden"
TODAY = date(2026, 12, 1)  # "today" is written as such; this only decides past from future
BUILT_IN = ("customers", "orders", "products", "support_tickets", "usage_events")


def _generated(root: Path, prefix: str = "") -> Path:
    """The built-in five without defects, one subfolder per dataset (``prefix`` + name)."""
    generate_dataset(
        root / "gen", GeneratorConfig(customers=300, orders=3000, fmt="csv", defect_rates={})
    )
    folder = root / "landing"
    for name in BUILT_IN:
        shutil.copytree(root / "gen" / name, folder / f"{prefix}{name}")
    return folder


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _generated(tmp_path_factory.mktemp("built_in"))


def _compare(shape: str, folder: Path) -> None:
    drafts, skipped = profile_folder(folder, today=TODAY)
    assert skipped == {}
    expected_dir = GOLDEN / shape
    if os.environ.get("PIPELINE_UPDATE_GOLDEN"):
        shutil.rmtree(expected_dir, ignore_errors=True)
        expected_dir.mkdir(parents=True)
        for name, draft in drafts.items():
            (expected_dir / f"{name}.yaml").write_text(to_yaml(draft))
    assert sorted(p.stem for p in expected_dir.glob("*.yaml")) == sorted(drafts)
    for name, draft in drafts.items():
        assert to_yaml(draft) == (expected_dir / f"{name}.yaml").read_text(), name


@pytest.mark.parametrize("shape", SETS)
def test_real_corpus_drafts_match_their_golden_files(shape: str):
    _compare(shape, REAL / shape / "landing")


def test_built_in_drafts_match_their_golden_files(generated: Path):
    _compare("built_in", generated)


def test_every_golden_draft_loads_unedited():
    files = sorted(GOLDEN.rglob("*.yaml"))
    assert len(files) == 5 + 2 + 1 + 1 + 1 + 2 + len(BUILT_IN)
    for path in files:
        assert load_spec_file(path).name == path.stem


def test_every_key_and_foreign_key_of_the_built_in_five_is_proposed():
    catalog = load_catalog()
    for name in BUILT_IN:
        shipped, draft = catalog[name], load_spec_file(GOLDEN / "built_in" / f"{name}.yaml")
        assert draft.key == shipped.key, name
        for cols in shipped.unique_keys:
            assert cols in draft.unique_keys or (
                len(cols) == 1 and draft.column_map[cols[0]].unique
            ), (name, cols)
        proposed = {
            (tuple(f.columns), f.references, tuple(f.ref_columns)) for f in draft.foreign_keys
        }
        for fk in shipped.foreign_keys:
            assert (tuple(fk.columns), fk.references, tuple(fk.ref_columns)) in proposed, name


def _quarantined(settings: Settings, names: list[str]) -> dict[str, int]:
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        counts = {}
        for n in names:  # identifiers, as every spec name is
            query = f"SELECT count(*) FROM validation.quarantined_{n}"  # noqa: S608 - identifiers
            counts[n] = con.execute(query).fetchone()[0]  # type: ignore[index]
        return counts


def _validate_own_data(tmp_path: Path, landing: Path) -> dict[str, int]:
    """Profile ``landing``, write the drafts as the user's specs, ingest and validate the same
    files with them: the quarantined rows per dataset."""
    drafts, _ = profile_folder(landing, today=TODAY)
    specs = tmp_path / "datasets"
    specs.mkdir()
    for name, draft in drafts.items():
        (specs / f"{name}.yaml").write_text(to_yaml(draft))
    settings = Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_DATASETS_DIR": str(specs),
            "PIPELINE_LANDING_URI": str(landing),
        }
    )
    assert materialize(settings, datasets_of(*drafts)).success
    return _quarantined(settings, list(drafts))


@pytest.mark.e2e
def test_validating_the_flights_it_came_from_quarantines_no_row(tmp_path: Path):
    """Every doubt of these drafts is a warn-level foreign key (Puerto Rico's airports, the
    tail numbers the FAA registry lacks): nothing else is suspicious, so nothing is
    quarantined."""
    assert set(_validate_own_data(tmp_path, REAL / "nycflights13" / "landing").values()) == {0}


@pytest.mark.e2e
def test_validating_the_built_in_data_it_came_from_quarantines_no_row(tmp_path: Path):
    landing = _generated(tmp_path / "gen", prefix="shop_")
    assert set(_validate_own_data(tmp_path, landing).values()) == {0}
