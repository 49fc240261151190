"""Out-of-range run config for a named job is refused at launch: no run is created."""

from __future__ import annotations

import dataclasses
import inspect

import dagster as dg
import pytest

from assets.core.spec import load_catalog
from assets.features.config import (
    FEATURE_CONFIG_CLASSES,
    ChurnFeatureConfig,
    PreprocessingConfig,
)
from assets.ingestion.config import IngestConfig, SampleDataConfig, ingestion_config_classes
from assets.reports.defs import PostgresExportConfig
from assets.validation.defs import ValidationConfig, validation_config_classes
from pipeline_defs import build_definitions
from pipeline_defs.launch_config import job_config_classes
from pipeline_defs.settings import Settings

JOBS = ["full_pipeline", "ingest_and_validate", "refresh_analytics", "generate_sample_data"]


def _taken_config_classes(job: dg.JobDefinition) -> dict[str, type]:
    """Each op's ``config`` parameter annotation, read from the op's own function (Dagster
    internals, acceptable in a test: it guards the declared mapping the product uses)."""
    found = {}
    for node in job.graph.nodes:
        fn = node.definition.compute_fn.decorated_fn  # type: ignore[union-attr]
        param = inspect.signature(fn).parameters.get("config")
        if param is not None:
            found[node.name] = param.annotation
    return found


@pytest.mark.parametrize("with_postgres", [False, True])
def test_every_op_config_class_is_declared_for_the_launch_check(settings, with_postgres):
    # An op whose Config class is missing from the stages' declarations would silently lose its
    # launch-time bounds check.
    if with_postgres:
        settings = dataclasses.replace(
            settings, env_present=settings.env_present | {"PIPELINE_PG_URL"}
        )
    defs = build_definitions(settings)
    job = defs.resolve_job_def("full_pipeline")
    taken = _taken_config_classes(job)
    assert taken["sample_landing_data"] is SampleDataConfig
    assert taken["raw_orders"] is IngestConfig
    assert taken["validate_orders"] is ValidationConfig
    assert taken["churn_features"] is ChurnFeatureConfig
    assert taken["churn_preprocessor"] is PreprocessingConfig
    assert ("postgres_exports" in taken) is with_postgres
    declared = {
        **ingestion_config_classes(load_catalog([settings.datasets_dir])),
        **validation_config_classes(load_catalog([settings.datasets_dir])),
        **FEATURE_CONFIG_CLASSES,
        **({"postgres_exports": PostgresExportConfig} if with_postgres else {}),
    }
    assert job_config_classes(job, declared) == taken


@pytest.mark.parametrize("job_name", ["generate_sample_data", "full_pipeline"])
def test_out_of_range_config_is_refused_before_a_run_exists(settings, job_name):
    job = build_definitions(settings).resolve_job_def(job_name)
    bad = {"ops": {"sample_landing_data": {"config": {"defect_rate": 0.9, "customers": 3}}}}
    with dg.instance_for_test() as instance:
        with pytest.raises(dg.DagsterInvalidConfigError) as refused:
            job.execute_in_process(instance=instance, run_config=bad)
        assert instance.get_run_records() == []
    message = str(refused.value)
    assert "ops.sample_landing_data.config.defect_rate" in message
    assert "less than or equal to 0.2 (got 0.9)" in message
    assert "ops.sample_landing_data.config.customers" in message
    assert not (settings.data_dir / "landing").exists()


def test_bounds_of_every_stage_are_checked(settings):
    d = build_definitions(settings)
    cases = {
        "ingest_and_validate": ("raw_orders", {"max_files": -1}, "max_files"),
        "refresh_analytics": ("churn_features", {"horizon_days": 3}, "horizon_days"),
    }
    for job_name, (op, config, field) in cases.items():
        with pytest.raises(dg.DagsterInvalidConfigError, match=rf"ops\.{op}\.config\.{field}"):
            dg.validate_run_config(d.resolve_job_def(job_name), {"ops": {op: {"config": config}}})


def test_the_launchpad_shows_the_same_schema_and_valid_config_passes_unchanged(settings):
    d = build_definitions(settings)
    for name in JOBS:
        job = d.resolve_job_def(name)
        assert job.config_mapping is not None, name
        # The outer schema is the job's own: the launchpad scaffolds the same ops and fields.
        fields = job.run_config_schema.config_type.fields  # type: ignore[attr-defined]
        assert {"ops", "execution", "resources"} <= set(fields), name
    good = {"ops": {"sample_landing_data": {"config": {"customers": 50, "orders": 200}}}}
    resolved = dg.validate_run_config(d.resolve_job_def("generate_sample_data"), good)
    assert resolved["ops"]["sample_landing_data"]["config"]["customers"] == 50


def test_daily_partitions_keep_the_check_where_dagster_allows_it(tmp_path):
    # Dagster refuses a config mapping on a partitioned job; those jobs fall back to the check
    # at step start, and the unpartitioned generator job keeps its launch-time check.
    daily = Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
            "PIPELINE_PARTITIONS": "daily",
        }
    )
    d = build_definitions(daily)
    assert d.resolve_job_def("full_pipeline").partitions_def is not None
    assert d.resolve_job_def("full_pipeline").config_mapping is None
    bad = {"ops": {"sample_landing_data": {"config": {"defect_rate": 0.9}}}}
    with pytest.raises(dg.DagsterInvalidConfigError, match=r"config\.defect_rate"):
        dg.validate_run_config(d.resolve_job_def("generate_sample_data"), bad)
