"""Where a declarative pipeline may write tables: never over a built-in table, another pipeline's
table, or a dataset's PostgreSQL source. Refused when the spec folder loads, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from assets.core.spec import SpecError, load_catalog
from assets.pipelines.spec import BUILTIN_SCHEMAS
from assets.pipelines.transform import load_pipelines


def write_pipeline(folder: Path, name: str, destinations: list[dict]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    doc = {"pipeline": {"name": name, "source": "orders", "destinations": destinations}}
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize(
    "table", ["validation.validated_probe", "ingestion.raw_orders", "pipelines.other"]
)
def test_a_duckdb_destination_in_a_builtin_schema_is_refused_naming_the_field(
    tmp_path: Path, table: str
) -> None:
    path = write_pipeline(tmp_path, "probe", [{"format": "duckdb", "table": table}])
    with pytest.raises(SpecError) as err:
        load_pipelines([tmp_path], load_catalog([]))
    message = str(err.value)
    assert message.startswith(f"{path}: field 'pipeline.destinations.0.table': ")
    assert f"built-in schema {table.split('.')[0]!r}" in message


def test_every_stage_schema_is_reserved() -> None:
    stages = {"ingestion", "validation", "enrichment", "features", "analytics", "reports"}
    assert stages <= set(BUILTIN_SCHEMAS)


def test_a_duckdb_destination_in_its_own_schema_or_the_default_loads(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "a", [{"format": "duckdb", "table": "marts.revenue"}])
    write_pipeline(tmp_path, "b", [{"format": "duckdb"}, {"format": "csv"}])
    names = [p.spec.name for p in load_pipelines([tmp_path], load_catalog([]))]
    assert names == ["a", "b"]


def test_two_pipelines_writing_one_table_are_refused(tmp_path: Path) -> None:
    write_pipeline(tmp_path, "a", [{"format": "duckdb", "table": "exports.b"}])
    second = write_pipeline(tmp_path, "b", [{"format": "duckdb"}])  # default: exports.b
    with pytest.raises(SpecError) as err:
        load_pipelines([tmp_path], load_catalog([]))
    assert str(err.value) == (
        f"{second}: field 'pipeline.destinations.0.table': duckdb exports.b is already "
        "written by pipeline 'a' (a.yaml)"
    )


def test_a_postgres_destination_over_a_dataset_source_is_refused(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "accounts.yaml").write_text(
        yaml.safe_dump(
            {
                "name": "accounts",
                "columns": [{"name": "id", "type": "integer"}],
                "source": {"kind": "postgres", "table": "accounts", "watermark_column": "id"},
            }
        )
    )
    path = write_pipeline(specs, "copy", [{"format": "postgres", "table": "public.accounts"}])
    with pytest.raises(SpecError, match="is the source of dataset 'accounts'") as err:
        load_pipelines([specs], load_catalog([specs]))
    assert str(err.value).startswith(f"{path}: field 'pipeline.destinations.0.table'")
