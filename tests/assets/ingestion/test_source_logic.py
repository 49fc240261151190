"""Ingestion logic without servers or Dagster: which candidates a run looks at, which failed pulls
are permanent, when sample data is generated, and the partition window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from psycopg import sql

from assets.core.http import ApiError, CircuitOpenError, TransientApiError
from assets.core.spec import ColumnSpec, DatasetSpec, SourceSpec
from assets.ingestion.partitions import Window, window_of
from assets.ingestion.sample import landing_has_files, occupied_datasets, skip_reason
from assets.ingestion.sources import SourcePullError, permanent_failure, source_candidates


class CsvRows:
    """A PostgreSQL export that writes a fixed CSV and keeps the parameters it was given."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.params: list[Any] = []

    def copy_to_csv(
        self, query: sql.Composable, params: Sequence[Any] | Mapping[str, Any] | None, dest: Path
    ) -> int:
        self.params.append(params)
        dest.write_text(self.text)
        return len(self.text)


def pg_spec() -> DatasetSpec:
    return DatasetSpec(
        name="accounts",
        columns=[ColumnSpec(name="id", type="integer")],
        source=SourceSpec(kind="postgres", table="public.accounts", watermark_column="id"),
    )


def test_permanent_failures_are_bad_data_an_open_circuit_and_client_errors() -> None:
    assert permanent_failure(SourcePullError("bad page"))
    assert permanent_failure(CircuitOpenError("open"))
    assert permanent_failure(ApiError("GET /x answered 404", status=404))
    assert not permanent_failure(ApiError("GET /x answered 429", status=429))
    assert not permanent_failure(ApiError("gave up after 5 attempts", status=503))
    assert not permanent_failure(ApiError("no status"))
    assert not permanent_failure(TransientApiError("timeout", retry_after=None))


def test_local_landing_candidates_and_refusals(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    (landing / "orders").mkdir(parents=True)
    (landing / "orders" / "a.csv").write_text("id\n1\n")
    (landing / "orders" / ".b.csv.tmp").write_text("id\n2\n")
    (tmp_path / "outside.csv").write_text("id\n3\n")
    (landing / "orders" / "link.csv").symlink_to(tmp_path / "outside.csv")
    spec = DatasetSpec(name="orders", columns=[ColumnSpec(name="id")])
    candidates, refused = source_candidates(
        spec,
        files_dir=tmp_path / "lake",
        landing_root=str(landing),
        quarantine_dir=tmp_path / "q",
        workdir=tmp_path,
    )
    assert [c.rel for c in candidates] == ["orders/a.csv"]
    assert [(rel, why.split(" (")[0]) for rel, _p, why in refused] == [
        ("orders/link.csv", "it links outside the landing zone")
    ]


def test_a_postgres_pull_is_one_candidate_or_none(tmp_path: Path) -> None:
    logged: list[str] = []
    kwargs: dict[str, Any] = {
        "files_dir": tmp_path / "lake",
        "landing_root": str(tmp_path / "landing"),
        "quarantine_dir": tmp_path / "q",
        "workdir": tmp_path,
        "log": logged.append,
    }
    empty = CsvRows("id\n")
    assert source_candidates(pg_spec(), pg=empty, **kwargs) == ([], [])
    assert logged == ["No new rows for accounts from postgres/public.accounts."]
    assert empty.params == [[]]  # nothing in the lake yet: no watermark

    rows = CsvRows("id\n1\n2\n")
    candidates, refused = source_candidates(pg_spec(), pg=rows, **kwargs)
    assert refused == []
    [pulled] = candidates
    assert pulled.rel.startswith("postgres/public.accounts/") and pulled.rel.endswith(".csv")
    assert pulled.fetch(tmp_path).read_text() == "id\n1\n2\n"


def test_sample_data_only_for_an_empty_landing_zone(tmp_path: Path) -> None:
    (tmp_path / "orders").mkdir()
    (tmp_path / "orders" / ".partial.csv").write_text("x")
    (tmp_path / "orders" / "_SUCCESS").write_text("")
    assert not landing_has_files(tmp_path, "orders")
    (tmp_path / "customers" / "2024").mkdir(parents=True)
    (tmp_path / "customers" / "2024" / "c.csv").write_text("id\n1\n")
    assert landing_has_files(tmp_path, "customers")

    class NoS3:
        def list_objects(self, bucket: str, prefix: str):
            raise AssertionError("a local landing zone lists no bucket")

        def download(self, bucket: str, key: str, dest: Path) -> Path:
            raise AssertionError

        def upload(self, path: Path, bucket: str, key: str) -> None:
            raise AssertionError

    occupied = occupied_datasets(["customers", "orders"], str(tmp_path), NoS3())
    assert occupied == ["customers"]
    assert skip_reason("if_empty", occupied) == "landing files exist for customers"
    assert skip_reason("if_empty", []) is None
    assert skip_reason("always", occupied) is None
    assert skip_reason("never", []) == "mode is never"


def test_window_spans_the_first_day_through_the_last_key() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    assert window_of(start, "2024-03-31") == Window(date(2024, 1, 1), date(2024, 3, 31))
