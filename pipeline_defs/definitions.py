"""The code location: one ``Definitions`` assembled from the stage packages."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg

from assets.analytics.defs import ANALYTICS_ASSETS
from assets.core.spec import BUILTIN_CATALOG_DIR, DatasetSpec, SpecError, load_catalog
from assets.enrichment.defs import ENRICHMENT_ASSETS
from assets.features.config import FEATURE_CONFIG_CLASSES
from assets.features.defs import FEATURE_ASSETS, build_blueprint_feed_assets
from assets.ingestion.checks import fresh_check_name
from assets.ingestion.config import ingestion_config_classes
from assets.ingestion.defs import GROUP as INGESTION
from assets.ingestion.defs import (
    build_ingestion_assets,
    daily_partitions,
)
from assets.pipelines.defs import build_pipeline_assets
from assets.pipelines.transform import CompiledPipeline, load_pipelines
from assets.reports.defs import (
    PostgresExportConfig,
    build_pipeline_report,
    build_report_assets,
    postgres_exports,
)
from assets.reports.dictionary_page import page_name as dictionary_page_name
from assets.validation.defs import GROUP as VALIDATION
from assets.validation.defs import build_validation_assets, validation_config_classes
from pipeline_defs.launch_config import launch_checks
from pipeline_defs.settings import Settings
from pipeline_defs.spec_errors import spec_error_assets
from resources import LakeResource, LandingZoneResource, ReportsResource, WarehouseResource
from resources.alerts import AlertSinkResource
from resources.postgres import PostgresResource
from resources.rest_api import RestApiResource
from resources.s3 import S3StorageResource
from resources.stream import KafkaStreamResource, RedisStreamResource
from schedules.cron import SOURCES_JOB, build_schedules
from sensors.alerting import (
    build_check_alert_sensor,
    build_quality_alert_sensor,
    run_failure_alert_sensor,
)
from sensors.landing import build_landing_zone_sensor
from sensors.stream import build_stream_sensor


def _env(settings: Settings, name: str) -> dg.EnvVar | None:
    """``dg.EnvVar(name)`` when the variable is set, else None (the field keeps its default)."""
    return dg.EnvVar(name) if settings.has(name) else None


def build_resources(settings: Settings) -> dict[str, Any]:
    """The embedded defaults (local landing zone, local Parquet lake, DuckDB warehouse) plus the
    S3, PostgreSQL and REST API connections, whose settings and secrets come from the environment
    as ``dg.EnvVar`` and are resolved only when a step that uses them starts."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    s3 = S3StorageResource(
        region_name=_env(settings, "AWS_REGION"),
        endpoint_url=_env(settings, "AWS_ENDPOINT_URL"),
        aws_access_key_id=_env(settings, "AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=_env(settings, "AWS_SECRET_ACCESS_KEY"),
        aws_session_token=_env(settings, "AWS_SESSION_TOKEN"),
    )
    return {
        "landing": LandingZoneResource(
            root=settings.landing_uri, quarantine_root=str(settings.quarantine_dir)
        ),
        # One S3 configuration: the lake connects through the same resource as the S3 sources.
        "lake": LakeResource(
            root=settings.lake_uri, s3=s3, keep_versions_hours=settings.keep_versions_hours
        ),
        "warehouse": WarehouseResource(database=str(settings.warehouse_path)),
        "reports": ReportsResource(root=str(settings.reports_dir)),
        "s3": s3,
        "postgres": PostgresResource(url=dg.EnvVar("PIPELINE_PG_URL")),
        "alerts": AlertSinkResource(
            log_path=str(settings.data_dir / "alerts" / "alerts.jsonl"),
            webhook_url=_env(settings, "PIPELINE_ALERT_WEBHOOK_URL"),
            # Slack and e-mail are each off until their variables are set.
            slack_webhook_url=_env(settings, "PIPELINE_SLACK_WEBHOOK_URL"),
            smtp_host=_env(settings, "PIPELINE_SMTP_HOST"),
            smtp_port=dg.EnvVar.int("PIPELINE_SMTP_PORT")  # type: ignore[arg-type]
            if settings.has("PIPELINE_SMTP_PORT")
            else 587,
            smtp_username=_env(settings, "PIPELINE_SMTP_USERNAME"),
            smtp_password=_env(settings, "PIPELINE_SMTP_PASSWORD"),
            email_from=_env(settings, "PIPELINE_ALERT_EMAIL_FROM") or "dq-pipeline@localhost",
            email_to=_env(settings, "PIPELINE_ALERT_EMAIL_TO"),
            ui_base_url=settings.ui_url,
        ),
        "api": RestApiResource(
            base_url=dg.EnvVar("PIPELINE_API_BASE_URL"),
            auth=settings.api_auth,  # type: ignore[arg-type]  # checked in Settings
            token=_env(settings, "PIPELINE_API_TOKEN"),
            token_url=_env(settings, "PIPELINE_API_TOKEN_URL"),
            client_id=_env(settings, "PIPELINE_API_CLIENT_ID"),
            client_secret=_env(settings, "PIPELINE_API_CLIENT_SECRET"),
        ),
        # Stream brokers: resolved only when a stream dataset's step or sensor uses them.
        "redis_stream": RedisStreamResource(url=dg.EnvVar("PIPELINE_REDIS_URL")),
        "kafka_stream": KafkaStreamResource(
            bootstrap_servers=dg.EnvVar("PIPELINE_KAFKA_BOOTSTRAP")
        ),
    }


PULLED = dg.AssetSelection.tag("pipeline/source", "api") | dg.AssetSelection.tag(
    "pipeline/source", "postgres"
)
# A stream is consumed by stream_sensor's runs only: a batch job reading it too would race them
# under the same consumer.
STREAMED = dg.AssetSelection.tag("pipeline/source", "stream")


def build_jobs(
    checks: Mapping[str, dg.ConfigMapping] | None = None,
) -> list[dg.UnresolvedAssetJobDefinition]:
    """The named jobs; ``checks`` gives a job its launch-time config check (launch_config)."""
    checks = checks or {}
    return [
        dg.define_asset_job(
            "full_pipeline",
            config=checks.get("full_pipeline"),
            selection=dg.AssetSelection.all() - STREAMED,
            description="Every stage, from landing files to reports (streams are read by "
            "stream_sensor).",
        ),
        dg.define_asset_job(
            "ingest_and_validate",
            config=checks.get("ingest_and_validate"),
            selection=dg.AssetSelection.groups(INGESTION, VALIDATION) - STREAMED,
            description="Read new landing files into the lake and run the quality gates.",
        ),
        dg.define_asset_job(
            "refresh_analytics",
            config=checks.get("refresh_analytics"),
            selection=dg.AssetSelection.groups("enrichment", "features", "analytics"),
            description="Rebuild enrichment, features and models from the validated tables.",
        ),
        dg.define_asset_job(
            SOURCES_JOB,
            config=checks.get(SOURCES_JOB),
            selection=PULLED | PULLED.downstream(depth=1),
            description="Pull the PostgreSQL and REST API sources into the lake and validate them.",
        ),
        dg.define_asset_job(
            "generate_sample_data",
            config=checks.get("generate_sample_data"),
            selection=dg.AssetSelection.assets("sample_landing_data"),
            description="Fill the landing zone with seeded synthetic data.",
        ),
    ]


# Later stages follow their inputs: when an upstream asset is updated they run, but only once
# every blocking quality gate upstream has passed, so a failed gate never feeds the next stage.
FOLLOW_UPSTREAM = (
    dg.AutomationCondition.eager() & dg.AutomationCondition.all_deps_blocking_checks_passed()
)


def declare_automation(
    assets: list[dg.AssetsDefinition], catalog: dict[str, DatasetSpec]
) -> list[dg.AssetsDefinition]:
    """Freshness on every raw and validated table (from its spec), and eager automation with
    blocking-check gating on every asset after ingestion."""

    def declare(spec: dg.AssetSpec) -> dg.AssetSpec:
        name = spec.key.to_user_string()
        dataset = name.split("_", 1)[1] if name.startswith(("raw_", "validated_")) else None
        freshness = None
        if dataset in catalog and catalog[dataset].freshness.max_lag_hours is not None:
            # A raw table materializes only when new data arrived, so this is the data's age.
            f = catalog[dataset].freshness
            warn = timedelta(hours=f.warn_after_hours) if f.warn_after_hours else None
            freshness = dg.FreshnessPolicy.time_window(
                fail_window=timedelta(hours=f.max_lag_hours or 0), warn_window=warn
            )
        automation = FOLLOW_UPSTREAM if spec.group_name != INGESTION else None
        return spec.replace_attributes(
            freshness_policy=freshness or spec.freshness_policy,
            automation_condition=automation or spec.automation_condition,
        )

    declared = [dg.map_asset_specs(declare, [a])[0] for a in assets]
    # One run can then cover a range of days end to end (`--partition-range` and ranged runs
    # need every selected asset to take a single-run backfill).
    single = dg.BackfillPolicy.single_run()
    return [a if a.backfill_policy else a.with_attributes(backfill_policy=single) for a in declared]


def link_dictionary(
    assets: list[dg.AssetsDefinition], datasets: Collection[str], reports_dir: Path
) -> list[dg.AssetsDefinition]:
    """Each ``validated_<dataset>`` names its page of the data dictionary, which the
    data_dictionary asset writes under ``reports_dir``."""

    def link(spec: dg.AssetSpec) -> dg.AssetSpec:
        dataset = spec.key.to_user_string().removeprefix("validated_")
        if spec.key.to_user_string() == dataset or dataset not in datasets:
            return spec
        page = reports_dir / dictionary_page_name(dataset)
        return spec.merge_attributes(metadata={"data_dictionary": dg.MetadataValue.path(str(page))})

    return [dg.map_asset_specs(link, [a])[0] for a in assets]


def automation_sensor(
    assets: list[dg.AssetsDefinition], *, running: bool
) -> dg.AutomationConditionSensorDefinition:
    """The sensor that evaluates every declared automation condition (it replaces Dagster's
    default one, which always starts stopped): running on a fresh instance when ``running``.
    Once it is switched on or off in the UI, the instance keeps that choice."""
    automated = [
        key for a in assets for key, c in a.automation_conditions_by_key.items() if c is not None
    ]
    return dg.AutomationConditionSensorDefinition(
        "automation_sensor",
        target=dg.AssetSelection.assets(*automated),
        default_status=(
            dg.DefaultSensorStatus.RUNNING if running else dg.DefaultSensorStatus.STOPPED
        ),
        description="Runs each asset after ingestion when an input was updated, once every "
        "blocking quality gate upstream has passed (PIPELINE_AUTOMATION=on starts it running).",
    )


def _check_pipeline(p: CompiledPipeline, taken: set[str], settings: Settings) -> None:
    """A pipeline's name and destinations against the rest of the project and the environment."""
    if p.spec.name in taken:
        raise SpecError(
            f"{p.path}: field 'pipeline.name': {p.spec.name!r} is already an asset of this "
            "project; choose another name"
        )
    for i, dest in enumerate(p.spec.destinations):
        if dest.format == "postgres" and not settings.has("PIPELINE_PG_URL"):
            raise SpecError(
                f"{p.path}: field 'pipeline.destinations.{i}': a postgres destination needs "
                "PIPELINE_PG_URL (the connection URL) in the environment"
            )


def build_definitions(settings: Settings | None = None) -> dg.Definitions:
    settings = settings or Settings.from_env()
    refused: dict[Path, str] | None = {} if settings.spec_errors == "skip" else None
    catalog = load_catalog([settings.datasets_dir], refused=refused)
    pipelines = load_pipelines([settings.datasets_dir], catalog, refused=refused)
    daily = (
        daily_partitions(settings.partition_start)
        if settings.partitions == "daily" and any(spec.partitioning for spec in catalog.values())
        else None
    )
    assets = [
        *build_ingestion_assets(catalog, daily),
        *link_dictionary(
            build_validation_assets(catalog, settings.quality_policy, daily),
            catalog,
            settings.reports_dir,
        ),
        *ENRICHMENT_ASSETS,
        *FEATURE_ASSETS,
        *build_blueprint_feed_assets(catalog),
        *ANALYTICS_ASSETS,
        *build_report_assets(catalog),
    ]
    taken = {key.to_user_string() for a in assets for key in a.keys}
    kept = []
    for p in pipelines:
        try:
            _check_pipeline(p, taken, settings)
        except SpecError as exc:
            if refused is None:
                raise
            refused[p.path] = str(exc)
            continue
        kept.append(p)
    pipelines = kept
    assets += build_pipeline_assets(pipelines, catalog)
    config_classes = {
        **ingestion_config_classes(catalog),
        **validation_config_classes(catalog),
        **FEATURE_CONFIG_CLASSES,
    }
    if settings.has("PIPELINE_PG_URL"):
        # Published only where a database is configured, so the embedded demo needs none.
        assets.append(postgres_exports)
        config_classes["postgres_exports"] = PostgresExportConfig
    # Every asset is in by now, so the pipeline report names each one's stage.
    stage_of = {
        key.to_user_string(): group for a in assets for key, group in a.group_names_by_key.items()
    }
    assets.append(build_pipeline_report(stage_of))
    assets = declare_automation(assets, catalog)
    # After the automation: a refused file's asset only fails, and no condition starts it.
    assets += spec_error_assets(refused or {})
    validated = sorted(f"validated_{name}" for name in catalog)
    pulled = any(spec.source.kind != "landing" for spec in catalog.values())
    # In-process by default: each step here is seconds of Polars work, and a subprocess per
    # step costs more than it saves on two cores. Multiprocess parallelises big independent
    # steps (the five ingestions, the five validations); pick it with PIPELINE_EXECUTOR.
    executor = (
        dg.in_process_executor
        if settings.executor == "in_process"
        else dg.multiprocess_executor.configured({"max_concurrent": 2})
    )
    resources = build_resources(settings)
    stream_sensor = build_stream_sensor(
        list(catalog.values()),
        interval_s=settings.sensor_interval_s,
        running=settings.has("PIPELINE_REDIS_URL") or settings.has("PIPELINE_KAFKA_BOOTSTRAP"),
    )
    plain = build_jobs()
    probe = dg.Definitions(assets=assets, jobs=plain, executor=executor, resources=resources)
    return dg.Definitions(
        assets=assets,
        jobs=build_jobs(launch_checks([job.name for job in plain], probe, config_classes)),
        schedules=build_schedules(
            settings.timezone, has_pulled_sources=pulled, partitioned=daily is not None
        ),
        sensors=[
            build_landing_zone_sensor(
                list(catalog.values()),
                job_name="ingest_and_validate",
                interval_s=settings.sensor_interval_s,
                partitions_def=daily,
            ),
            run_failure_alert_sensor,
            build_quality_alert_sensor(validated),
            automation_sensor(assets, running=settings.automation),
            build_check_alert_sensor(
                settings.sensor_interval_s,
                frozenset(fresh_check_name(s) for s in catalog.values() if s.freshness.column),
            ),
            *([stream_sensor] if stream_sensor else []),
        ],
        executor=executor,
        resources=resources,
    )


def _inputs_state(settings: Settings) -> tuple[tuple[str, int, int], ...]:
    """Every file the definitions are built from (the built-in and the user's spec folders),
    with its modification time and size."""
    found = []
    for folder in (BUILTIN_CATALOG_DIR, settings.datasets_dir):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else ():
            if path.is_file():
                stat = path.stat()
                found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


_BUILT: dict[tuple[Settings, tuple[tuple[str, int, int], ...]], dg.Definitions] = {}


@dg.definitions
def defs() -> dg.Definitions:
    """The code location. Dagster's CLI loads it up to six times in one process (to find the
    target, then to rebuild the job for the plan and for the run), each load a full build of
    every asset from the specs (~0.23 s); a process builds once per environment and state of
    the spec files, so an edited spec is still read by the next load."""
    settings = Settings.from_env()
    key = (settings, _inputs_state(settings))
    if key not in _BUILT:
        _BUILT.clear()
        _BUILT[key] = build_definitions(settings)
    return _BUILT[key]
