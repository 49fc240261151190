"""The code location loads, and its shape is what the README promises."""

import dagster as dg

from pipeline_defs import build_definitions, defs


def test_definitions_load_through_the_decorated_entry_point():
    loaded = defs()
    assert isinstance(loaded, dg.Definitions)
    loaded.validate_loadable(loaded)


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
