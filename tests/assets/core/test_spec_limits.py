"""Specs at their limits: a million allowed values, a pattern the regex engine cannot run, and
atomic writes of one process that must not share a temp file."""

from __future__ import annotations

import os
import threading
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from assets.core import spec_files
from assets.core.spec import load_spec_file
from assets.core.spec_files import SpecError
from assets.core.storage import sink_parquet_atomic
from assets.ingestion.ledger import quarantine_file
from assets.validation.rules import column_rules

MILLION = 1_000_000


@pytest.mark.e2e
def test_a_million_allowed_values_load_through_libyaml_and_the_reason_counts_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    codes = [f"C{i:07d}" for i in range(MILLION)]
    path = tmp_path / "codes.yaml"
    path.write_text(
        "name: codes\ncolumns:\n  - name: code\n    allowed: [" + ", ".join(codes) + "]\n"
    )

    # The pure-Python composer took minutes on this document; a plain one must not reach it.
    def refuse(*_: object) -> None:
        raise AssertionError("a document without aliases went through the Python composer")

    monkeypatch.setattr(spec_files.SpecLoader, "compose_node", refuse)
    spec = load_spec_file(path)
    assert spec.columns[0].allowed is not None
    assert len(spec.columns[0].allowed) == MILLION
    assert spec.columns[0].allowed[-1] == codes[-1]

    rule = next(r for r in column_rules(spec, date(2024, 1, 1)) if r.name == "allowed:code")
    frame = pl.DataFrame({"code": ["C0000001", "nope"]}).with_columns(
        failed=rule.failed, reason=rule.reason
    )
    assert frame["failed"].to_list() == [False, True]
    assert frame["reason"][1] == "code 'nope' is not one of 1,000,000 allowed values"


def test_a_few_allowed_values_are_named_and_yaml_12_booleans_hold_on_the_fast_path(
    tmp_path: Path,
) -> None:
    path = tmp_path / "small.yaml"
    path.write_text(
        "name: small\ncolumns:\n  - name: country\n    allowed: [no, on, yes]\n"
        "  - name: flag\n    type: boolean\n"
    )
    spec = load_spec_file(path)
    assert spec.columns[0].allowed == ["no", "on", "yes"]  # not YAML 1.1 booleans
    rule = column_rules(spec, date(2024, 1, 1))[0]
    reason = pl.DataFrame({"country": ["se"]}).select(rule.reason).item()
    assert reason == "country 'se' is not one of no, on, yes"


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        (r"^(?=.*@).+$", "look-around"),
        (r"(?<=\+)\d+", "look-around"),
        (r"^(\w)\1$", "backreferences"),
    ],
)
def test_a_pattern_the_regex_engine_cannot_run_is_refused_at_load_naming_the_field(
    tmp_path: Path, pattern: str, why: str
) -> None:
    path = tmp_path / "people.yaml"
    path.write_text(
        f"name: people\ncolumns:\n  - name: id\n  - name: email\n    pattern: '{pattern}'\n"
    )
    with pytest.raises(SpecError) as err:
        load_spec_file(path)
    message = str(err.value)
    assert "columns" in message and "pattern" in message, message
    assert why in message, message


def _taken_temp_name(path: Path) -> Path:
    """The temp name a pid-named writer would use, held by another writer of this process."""
    held = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    held.mkdir(parents=True)
    return held


def test_atomic_lake_writes_of_one_process_use_their_own_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "t" / "part-full.parquet"
    held = _taken_temp_name(target)
    frames = [pl.DataFrame({"n": list(range(i, i + 1000))}) for i in range(0, 8000, 1000)]
    errors: list[BaseException] = []

    def write(frame: pl.DataFrame) -> None:
        try:
            sink_parquet_atomic(frame.lazy(), target)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(f,)) for f in frames]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert pl.read_parquet(target).height == 1000  # one writer's whole table, never a mix
    leftovers = [p.name for p in target.parent.iterdir() if p.suffix == ".tmp"]
    assert leftovers == [held.name]  # no temp file of a writer is left behind


def test_a_quarantine_copy_uses_its_own_temp_file(tmp_path: Path) -> None:
    src = tmp_path / "bad.csv"
    src.write_text("a,b\n1,2\n")
    qdir = tmp_path / "quarantine"
    sha = "ab" * 32
    held = _taken_temp_name(qdir / f"{sha[:16]}-bad.csv")
    copied = quarantine_file(src, sha, "unreadable", "orders", qdir, copy=True)
    assert copied.read_text() == "a,b\n1,2\n"
    assert held.is_dir()
