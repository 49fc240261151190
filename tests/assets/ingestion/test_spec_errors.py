"""Malformed dataset and pipeline specs: each refused with one exact message naming the file,
the field and what was expected, before anything runs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from assets.core.spec import SpecError, load_catalog
from assets.pipelines.transform import load_pipelines

INVOICES = """\
name: invoices
columns:
  - {name: invoice_id, type: string, required: true}
  - {name: customer_id, type: string}
  - {name: amount, type: float, min: 0}
  - {name: issued_on, type: date}
"""
PIPELINE = """\
pipeline:
  name: revenue_by_country
  source: orders
  steps:
    - join: {dataset: customers, on: [customer_id], columns: [country]}
    - aggregate: {by: [country], metrics: {units: {sum: quantity}}}
"""

AIRPORTS = """\
name: airports
columns:
  - {name: faa, type: string, required: true}
key: [faa]
"""
FLIGHTS = """\
name: flights
columns:
  - {name: flight_id, type: string, required: true}
  - {name: origin, type: string}
  - {name: dest, type: string}
key: [flight_id]
foreign_keys:
  - {columns: [origin], references: airports, ref_columns: [faa]}
  - {columns: [dest], references: airports, ref_columns: [faa]}
"""

CASES = [
    (
        "foreign_key_twice",
        FLIGHTS.replace("[dest], references", "[origin], references"),
        "field 'foreign_keys': origin -> airports is declared twice (entries 1 and 2)",
    ),
    (
        "partition_start_in_a_spec",
        INVOICES + 'partitioning: {column: issued_on, start: "2024-01-01"}\n',
        "field 'partitioning.start': the first partition day is set for all "
        "datasets by PIPELINE_PARTITION_START; remove start",
    ),
    (
        "typo_in_key",
        INVOICES + "key: [invoce_id]\n",
        "field 'key': unknown column 'invoce_id'; did you mean 'invoice_id'?",
    ),
    (
        "unknown_column_type",
        INVOICES.replace("type: float", "type: money"),
        "field 'columns.2.type': Input should be 'string', 'integer', 'float', 'boolean', "
        "'date' or 'datetime'",
    ),
    (
        "misspelt_field",
        INVOICES.replace("columns:", "colums:"),
        "field 'columns': Field required\n{path}: field 'colums': unknown field 'colums'; "
        "did you mean 'columns'?",
    ),
    (
        "misspelt_column_field",
        INVOICES.replace("required: true", "requird: true"),
        "field 'columns.0.requird': unknown field 'requird'; did you mean 'required'?",
    ),
    (
        "bad_regex",
        INVOICES.replace("type: string, required: true", "pattern: '^INV-[0-9'"),
        "field 'columns.0.pattern': pattern '^INV-[0-9' is not a valid regular expression: "
        "unterminated character set at position 5",
    ),
    (
        "rule_name_not_an_identifier",
        INVOICES + "rules:\n  - {kind: compare, name: 'due after issue', left: amount, op: '>=', "
        "right: amount}\n",
        "field 'rules.0.compare.name': rule name 'due after issue' must match "
        "^[a-z][a-z0-9_]{{0,62}}$",
    ),
    (
        "threshold_out_of_range",
        INVOICES + "thresholds: {completeness: 1.5}\n",
        "field 'thresholds.completeness': Input should be less than or equal to 1",
    ),
    (
        "foreign_key_to_unknown_dataset",
        INVOICES + "foreign_keys:\n  - {columns: [customer_id], references: customer, "
        "ref_columns: [customer_id]}\n",
        "field 'foreign_keys.references': unknown dataset 'customer'; did you mean 'customers'?",
    ),
    (
        "postgres_source_without_table",
        INVOICES + "source: {kind: postgres}\n",
        "field 'source.table': a postgres source needs exactly one of table or query",
    ),
    (
        "stream_source_without_stream",
        INVOICES + "source: {kind: stream, backend: redis}\n",
        "field 'source.stream': a stream source needs the stream to read (a Redis stream key or "
        "a Kafka topic), e.g. stream: orders-events",
    ),
    (
        "stream_source_unknown_backend",
        INVOICES + "source: {kind: stream, backend: rabbit, stream: invoices}\n",
        "field 'source.backend': Input should be 'redis' or 'kafka'",
    ),
    (
        "stream_source_partitioned",
        INVOICES.replace("- {name: amount", "- {name: sent_at, type: datetime}\n  - {name: amount")
        + "source: {kind: stream, backend: redis, stream: invoices}\n"
        "partitioning: {column: sent_at}\n",
        "field 'partitioning': a stream dataset lands micro-batches by entry range, not by day; "
        "remove partitioning",
    ),
    (
        "freshness_column_unknown",
        INVOICES + "freshness: {column: issued, max_lag_hours: 6}\n",
        "field 'freshness.column': unknown column 'issued'; did you mean 'issued_on'?",
    ),
    (
        "freshness_column_not_a_date",
        INVOICES + "freshness: {column: amount, max_lag_hours: 6}\n",
        "field 'freshness.column': 'amount' is a float column; the column dating the rows must "
        "be a date or datetime",
    ),
    (
        "freshness_warning_after_the_limit",
        INVOICES + "freshness: {column: issued_on, max_lag_hours: 6, warn_after_hours: 8}\n",
        "field 'freshness.warn_after_hours': 8 must be less than max_lag_hours (6): the "
        "warning comes before the error",
    ),
    (
        "not_yaml",
        "name: invoices\ncolumns: [\n",
        "not valid YAML",
    ),
    (
        "pipeline_unknown_step_kind",
        PIPELINE.replace("- aggregate:", "- agregate:"),
        "field 'pipeline.steps.1': unknown step kind 'agregate'; did you mean 'aggregate'?",
    ),
    (
        "pipeline_unknown_column_after_join",
        PIPELINE.replace("by: [country]", "by: [contry]"),
        "field 'pipeline.steps.1.aggregate.by': unknown column 'contry'; did you mean 'country'?",
    ),
    (
        "pipeline_bad_expression",
        PIPELINE.replace("    - aggregate", '    - filter: "quantity >> 2"\n    - aggregate'),
        "field 'pipeline.steps.1.filter': unexpected '>' at 10",
    ),
    (
        "pipeline_unknown_source",
        PIPELINE.replace("source: orders", "source: order"),
        "field 'pipeline.source': unknown dataset 'order'; did you mean 'orders'?",
    ),
    (
        "pipeline_postgres_destination_without_table",
        PIPELINE + "  destinations: [{format: postgres}]\n",
        "field 'pipeline.destinations.0.table': a postgres destination needs a table, "
        "e.g. analytics.revenue",
    ),
]


def _load(directory: Path) -> None:
    catalog = load_catalog([directory])
    load_pipelines([directory], catalog)


@pytest.mark.parametrize(("name", "text", "expected"), CASES, ids=[c[0] for c in CASES])
def test_malformed_spec_has_one_exact_message(tmp_path: Path, name: str, text: str, expected):
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as err:
        _load(tmp_path)
    message = str(err.value)
    if expected == "not valid YAML":
        assert message.startswith(f"{path}: not valid YAML: ")
    else:
        assert message == f"{path}: " + expected.format(path=path)


def test_the_good_specs_load(tmp_path: Path):
    (tmp_path / "invoices.yaml").write_text(INVOICES)
    (tmp_path / "pipeline.yaml").write_text(PIPELINE)
    catalog = load_catalog([tmp_path])
    assert "invoices" in catalog
    assert [p.spec.name for p in load_pipelines([tmp_path], catalog)] == ["revenue_by_country"]


def _definitions_validate(tmp_path: Path, specs: dict[str, str]) -> subprocess.CompletedProcess:
    """``dagster definitions validate`` on the code location with ``specs`` (file name to text)
    as the user's dataset specs, in a fresh instance home."""
    datasets = tmp_path / "datasets"
    datasets.mkdir()
    for name, text in specs.items():
        (datasets / name).write_text(text)
    root = Path(__file__).resolve().parents[3]
    env = {
        **os.environ,
        "DAGSTER_HOME": str(tmp_path),
        "PIPELINE_DATA_DIR": str(tmp_path / "data"),
        "PIPELINE_DATASETS_DIR": str(datasets),
    }
    (tmp_path / "dagster.yaml").write_text((root / "dagster.yaml").read_text())
    dagster = str(Path(sys.executable).with_name("dagster"))
    return subprocess.run(
        [dagster, "definitions", "validate", "-w", "workspace.yaml"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.mark.e2e
def test_dagster_definitions_validate_fails_with_the_message(tmp_path: Path):
    done = _definitions_validate(tmp_path, {"invoices.yaml": INVOICES + "key: [invoce_id]\n"})
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert (
        f"{tmp_path / 'datasets' / 'invoices.yaml'}: field 'key': unknown column 'invoce_id'; "
        "did you mean 'invoice_id'?"
    ) in output


@pytest.mark.e2e
def test_two_foreign_keys_to_one_parent_load_with_a_gate_each(tmp_path: Path):
    # Both gates were named flights_reference_airports, and Dagster refused the code location.
    done = _definitions_validate(tmp_path, {"airports.yaml": AIRPORTS, "flights.yaml": FLIGHTS})
    assert done.returncode == 0, done.stderr[-3000:]
    from assets.validation.gates import gate_names

    names = gate_names(load_catalog([tmp_path / "datasets"])["flights"])
    assert names[-2:] == [
        "flights_reference_airports_by_origin",
        "flights_reference_airports_by_dest",
    ]


def test_every_broken_file_is_named_at_once_and_a_misspelt_choice_gets_a_hint(tmp_path: Path):
    """Three broken files give one refusal naming all three, instead of one per attempt."""
    (tmp_path / "a.yaml").write_text(
        "name: a\ncolumns:\n  - {name: x, type: flaot}\n  - {name: y, requird: true}\n"
    )
    (tmp_path / "b.yaml").write_text("name: b\ncolumns: [{name: x}]\nkey: [z]\n")
    (tmp_path / "c.yaml").write_text("name: c\ncolumns: [{name: x}\n")  # not YAML
    (tmp_path / "d.yaml").write_text(
        "name: d\ncolumns: [{name: x}]\n"
        "foreign_keys: [{columns: [x], references: bb, ref_columns: [x]}]\n"
    )
    with pytest.raises(SpecError) as refused:
        load_catalog([tmp_path])
    lines = str(refused.value).splitlines()
    assert [line.split(":", 1)[0] for line in lines if line.startswith(str(tmp_path))] == [
        str(tmp_path / "a.yaml"),
        str(tmp_path / "a.yaml"),
        str(tmp_path / "b.yaml"),
        str(tmp_path / "c.yaml"),
        str(tmp_path / "d.yaml"),
    ], lines
    assert "field 'columns.0.type'" in lines[0] and "did you mean 'float'?" in lines[0]
    assert "did you mean 'required'?" in lines[1]
    assert "field 'foreign_keys.references': unknown dataset 'bb'" in lines[-1]


def test_with_skip_a_broken_file_leaves_the_location_up_and_shows_as_a_failing_asset(
    tmp_path: Path,
):
    """A server's code location must not go down for one user's typo: the built-in datasets
    and the good user files load, the broken file is an asset whose description and failure
    name the field, and a dataset whose foreign key needs the broken one is left out too."""
    import dagster as dg

    from pipeline_defs.definitions import build_definitions
    from pipeline_defs.settings import Settings

    datasets = tmp_path / "datasets"
    datasets.mkdir()
    (datasets / "airports.yaml").write_text(AIRPORTS + "key: [faa_code]\n")  # no such column
    (datasets / "flights.yaml").write_text(FLIGHTS)  # its foreign keys need airports
    (datasets / "invoices.yaml").write_text(INVOICES)
    env = {"PIPELINE_DATA_DIR": str(tmp_path / "data"), "PIPELINE_DATASETS_DIR": str(datasets)}
    with pytest.raises(SpecError, match="field 'key': unknown column 'faa_code'"):
        build_definitions(Settings.from_env(env))  # refuse, the default: the CLI and CI
    defs = build_definitions(Settings.from_env({**env, "PIPELINE_SPEC_ERRORS": "skip"}))
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"raw_invoices", "validated_orders", "spec_error_airports", "spec_error_flights"} <= keys
    assert not {"raw_airports", "raw_flights"} & keys
    error = defs.get_assets_def("spec_error_airports")
    assert "field 'key': unknown column 'faa_code'" in (error.descriptions_by_key[error.key] or "")
    result = dg.materialize([error], raise_on_error=False)
    failure = result.get_step_failure_events()[0].step_failure_data.error
    assert failure is not None and "field 'key': unknown column 'faa_code'" in failure.message
    flights = defs.get_assets_def("spec_error_flights")
    assert "dataset 'airports' was refused" in (flights.descriptions_by_key[flights.key] or "")
