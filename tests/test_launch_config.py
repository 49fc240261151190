"""Out-of-range run config for a named job is refused at launch: no run is created."""

from __future__ import annotations

import dagster as dg
import pytest

from assets.features.defs import ChurnFeatureConfig, PreprocessingConfig
from assets.ingestion.defs import IngestConfig, SampleDataConfig
from assets.validation.defs import ValidationConfig
from pipeline_defs import build_definitions
from pipeline_defs.launch_config import config_classes
from pipeline_defs.settings import Settings

JOBS = ["full_pipeline", "ingest_and_validate", "refresh_analytics", "generate_sample_data"]


def test_every_config_class_of_the_pipeline_is_found(settings):
    # Guards the introspection the launch check relies on: a Dagster upgrade that hides an op's
    # Config class would silently drop its bounds check.
    job = build_definitions(settings).resolve_job_def("full_pipeline")
    found = config_classes(job)
    assert found["sample_landing_data"] is SampleDataConfig
    assert found["raw_orders"] is IngestConfig
    assert found["validate_orders"] is ValidationConfig
    assert found["churn_features"] is ChurnFeatureConfig
    assert found["churn_preprocessor"] is PreprocessingConfig
    assert set(found.values()) == {
        SampleDataConfig,
        IngestConfig,
        ValidationConfig,
        ChurnFeatureConfig,
        PreprocessingConfig,
    }


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
