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
    assert groups == {"ingestion"}
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for entity in ("customers", "products", "orders", "support_tickets", "usage_events"):
        assert f"raw_{entity}" in keys
    for job in ("full_pipeline", "ingest_and_validate", "generate_sample_data"):
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
    assert dg.AssetKey("raw_invoices") in graph.get_all_asset_keys()
