"""The code location loads, and its shape is what the README promises."""

import dagster as dg

from pipeline_defs import build_definitions, defs


def test_definitions_load_through_the_decorated_entry_point():
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    loaded.validate_loadable(loaded)


def test_one_process_builds_the_definitions_once_until_a_spec_changes(tmp_path, monkeypatch):
    specs = tmp_path / "datasets"
    specs.mkdir()
    monkeypatch.setenv("PIPELINE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("PIPELINE_DATASETS_DIR", str(specs))
    first = defs()
    assert defs() is first  # Dagster's CLI loads the location several times per call
    (specs / "invoices.yaml").write_text(
        "name: invoices\ncolumns:\n  - {name: invoice_id, required: true}\nkey: [invoice_id]\n"
    )
    edited = defs()
    assert edited is not first
    assert dg.AssetKey("raw_invoices") in edited.resolve_asset_graph().get_all_asset_keys()
    monkeypatch.setenv("PIPELINE_SENSOR_INTERVAL_S", "7")  # another environment: built again
    assert defs() is not edited


def test_groups_jobs_and_raw_assets(settings):
    d = build_definitions(settings)
    graph = d.resolve_asset_graph()
    groups = {graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups == {"ingestion", "validation", "enrichment", "features", "analytics", "reports"}
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for entity in ("customers", "products", "orders", "support_tickets", "usage_events"):
        assert {f"raw_{entity}", f"validated_{entity}", f"quarantined_{entity}"} <= keys
    for job in (
        "full_pipeline",
        "ingest_and_validate",
        "refresh_analytics",
        "generate_sample_data",
    ):
        assert d.resolve_job_def(job).name == job


def test_user_dataset_spec_becomes_a_raw_asset(settings):
    settings.datasets_dir.mkdir(parents=True)
    (settings.datasets_dir / "invoices.yaml").write_text(
        "name: invoices\ncolumns:\n  - {name: invoice_id, required: true}\n"
        "  - {name: customer_id}\n  - {name: total, type: float}\nkey: [invoice_id]\n"
        "foreign_keys:\n  - {columns: [customer_id], references: customers,"
        " ref_columns: [customer_id]}\n"
    )
    graph = build_definitions(settings).resolve_asset_graph()
    for key in ("raw_invoices", "validated_invoices", "quarantined_invoices"):
        assert dg.AssetKey(key) in graph.get_all_asset_keys()
    # The foreign key makes validation read the parent's raw table.
    assert dg.AssetKey("raw_customers") in graph.get(dg.AssetKey("validated_invoices")).parent_keys


def test_bad_policy_in_env_is_refused_naming_the_variable():
    import pytest

    from pipeline_defs.settings import Settings

    with pytest.raises(ValueError, match="PIPELINE_QUALITY_POLICY must be block, warn or auto_fix"):
        Settings.from_env({"PIPELINE_QUALITY_POLICY": "lenient"})


def test_bad_source_settings_are_refused_naming_the_field(tmp_path):
    import pytest

    from assets.core.spec import SpecError, load_catalog
    from pipeline_defs.settings import Settings

    with pytest.raises(ValueError, match="PIPELINE_LAKE_URI must name a bucket"):
        Settings.from_env({"PIPELINE_LAKE_URI": "s3:///lake"})
    assert (
        Settings.from_env({"PIPELINE_LAKE_URI": "s3://bucket/lake"}).lake_uri == "s3://bucket/lake"
    )
    with pytest.raises(ValueError, match="PIPELINE_API_AUTH must be none, api_key, bearer"):
        Settings.from_env({"PIPELINE_API_AUTH": "basic"})
    cases = {
        "source:\n  kind: postgres\n": "field 'source.table': a postgres source "
        "needs exactly one of table or query",
        "source: {kind: api}\n": "field 'source.endpoint': an api source needs an endpoint",
        "source: {kind: postgres, table: 'x; drop'}\n": "field 'source.table'",
        "source: {kind: postgres, table: t, watermark_column: updatd_at}\n": "field 'source."
        "watermark_column': unknown column 'updatd_at'; did you mean 'updated_at'?",
    }
    for i, (source, message) in enumerate(cases.items()):
        folder = tmp_path / str(i)
        folder.mkdir()
        (folder / "pulled.yaml").write_text(
            "name: pulled\ncolumns:\n  - {name: id, required: true}\n"
            "  - {name: updated_at, type: datetime}\n" + source
        )
        with pytest.raises(SpecError) as err:
            load_catalog([folder])
        assert message in str(err.value), str(err.value)


def test_source_resources_take_secrets_as_env_vars(settings):
    from pipeline_defs.settings import Settings

    env = {
        "PIPELINE_DATA_DIR": str(settings.data_dir),
        "PIPELINE_PG_URL": "postgresql://u:pw@h/db",
        "PIPELINE_API_BASE_URL": "http://api",
        "PIPELINE_API_TOKEN": "tok",
        "AWS_SECRET_ACCESS_KEY": "sk",
    }
    d = build_definitions(Settings.from_env(env))
    resources = d.resources
    assert isinstance(resources["postgres"].url, dg.EnvVar)
    assert resources["api"].token == dg.EnvVar("PIPELINE_API_TOKEN")
    assert resources["api"].auth == "bearer"
    assert resources["s3"].aws_secret_access_key == dg.EnvVar("AWS_SECRET_ACCESS_KEY")
    graph = d.resolve_asset_graph()
    assert dg.AssetKey("postgres_exports") in graph.get_all_asset_keys()
    without = build_definitions(settings).resolve_asset_graph()
    assert dg.AssetKey("postgres_exports") not in without.get_all_asset_keys()


def test_production_profile_needs_the_lake_on_s3():
    import pytest

    from pipeline_defs.settings import Settings

    with pytest.raises(ValueError, match="PIPELINE_LAKE_URI must be s3://bucket/prefix when"):
        Settings.from_env({"PIPELINE_ENV": "production"})
    with pytest.raises(ValueError, match="PIPELINE_ENV must be local or production"):
        Settings.from_env({"PIPELINE_ENV": "staging"})
    prod = Settings.from_env({"PIPELINE_ENV": "production", "PIPELINE_LAKE_URI": "s3://b/lake"})
    assert (prod.environment, prod.lake_uri) == ("production", "s3://b/lake")


def test_a_stream_dataset_is_read_by_its_sensor_not_by_the_batch_jobs(settings):
    """Only stream_sensor's runs consume a stream: a scheduled full_pipeline reading it too would
    race the sensor's run under the same consumer."""
    from tests.assets.ingestion.stream_helpers import write_spec

    write_spec(settings.datasets_dir)
    d = build_definitions(settings)
    graph = d.resolve_asset_graph()
    for job in ("full_pipeline", "ingest_and_validate"):
        selected = d.resolve_job_def(job).asset_layer.executable_asset_keys
        assert dg.AssetKey("raw_clicks") not in selected, job
        assert dg.AssetKey("raw_orders") in selected
    assert dg.AssetKey("raw_clicks") in graph.get_all_asset_keys()


def test_a_reference_table_declared_never_stale_gets_no_freshness_policy(tmp_path):
    """Every dataset had a 24-hour policy, so a reference table loaded once went stale in the
    UI; ``max_lag_hours: null`` says it never does."""
    import pytest

    from assets.core.spec import DatasetSpec, load_catalog
    from pipeline_defs.settings import Settings

    specs = tmp_path / "datasets"
    specs.mkdir()
    (specs / "countries.yaml").write_text(
        "name: countries\ncolumns:\n  - {name: code, required: true}\nkey: [code]\n"
        "freshness: {max_lag_hours: null}\n"
    )
    env = {"PIPELINE_DATA_DIR": str(tmp_path / "data"), "PIPELINE_DATASETS_DIR": str(specs)}
    graph = build_definitions(Settings.from_env(env)).resolve_asset_graph()
    assert graph.get(dg.AssetKey("raw_countries")).freshness_policy is None
    assert graph.get(dg.AssetKey("validated_countries")).freshness_policy is None
    assert graph.get(dg.AssetKey("raw_orders")).freshness_policy is not None
    assert load_catalog([specs])["countries"].freshness.max_lag_hours is None
    with pytest.raises(ValueError, match="column: data with no freshness limit"):
        DatasetSpec.model_validate(
            {
                "name": "c",
                "columns": [{"name": "d", "type": "date"}],
                "freshness": {"max_lag_hours": None, "column": "d"},
            }
        )
