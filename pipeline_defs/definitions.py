"""The code location: one ``Definitions`` assembled from the stage packages."""

from __future__ import annotations

import dagster as dg

from assets.analytics.assets import ANALYTICS_ASSETS
from assets.enrichment.assets import ENRICHMENT_ASSETS
from assets.features.assets import FEATURE_ASSETS
from assets.ingestion.assets import GROUP as INGESTION
from assets.ingestion.assets import build_ingestion_assets
from assets.ingestion.contracts import load_catalog
from assets.reports.assets import REPORT_ASSETS, build_pipeline_report
from assets.validation.assets import GROUP as VALIDATION
from assets.validation.assets import build_validation_assets
from pipeline_defs.settings import Settings
from resources import LakeResource, LandingZoneResource, ReportsResource, WarehouseResource


def build_resources(settings: Settings) -> dict[str, dg.ConfigurableResource]:
    """The embedded defaults: local landing zone, local Parquet lake, DuckDB warehouse."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return {
        "landing": LandingZoneResource(
            root=settings.landing_uri, quarantine_root=str(settings.quarantine_dir)
        ),
        "lake": LakeResource(root=settings.lake_uri),
        "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
        "reports": ReportsResource(root=str(settings.reports_dir)),
    }


def build_jobs() -> list[dg.UnresolvedAssetJobDefinition]:
    return [
        dg.define_asset_job(
            "full_pipeline",
            selection=dg.AssetSelection.all(),
            description="Every stage, from landing files to reports.",
        ),
        dg.define_asset_job(
            "ingest_and_validate",
            selection=dg.AssetSelection.groups(INGESTION, VALIDATION),
            description="Read new landing files into the lake and run the quality gates.",
        ),
        dg.define_asset_job(
            "refresh_analytics",
            selection=dg.AssetSelection.groups("enrichment", "features", "analytics"),
            description="Rebuild enrichment, features and models from the validated tables.",
        ),
        dg.define_asset_job(
            "generate_sample_data",
            selection=dg.AssetSelection.assets("sample_landing_data"),
            description="Fill the landing zone with seeded synthetic data.",
        ),
    ]


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    catalog = load_catalog([settings.datasets_dir])
    assets = [
        *build_ingestion_assets(catalog),
        *build_validation_assets(catalog, settings.quality_policy),
        *ENRICHMENT_ASSETS,
        *FEATURE_ASSETS,
        *ANALYTICS_ASSETS,
        *REPORT_ASSETS,
    ]
    stage_of = {
        key.to_user_string(): group for a in assets for key, group in a.group_names_by_key.items()
    }
    assets.append(build_pipeline_report(stage_of))
    return dg.Definitions(
        assets=assets,
        jobs=build_jobs(),
        # In-process by default: each step here is seconds of Polars work, and a subprocess per
        # step costs more than it saves on two cores. Multiprocess parallelises big independent
        # steps (the five ingestions, the five validations); pick it with PIPELINE_EXECUTOR.
        executor=dg.in_process_executor
        if settings.executor == "in_process"
        else dg.multiprocess_executor.configured({"max_concurrent": 2}),
        resources=build_resources(settings),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
