"""Personal data planted everywhere a value can surface, one whole pipeline run through the
dagster CLI, then every output a person reads searched for it: none of it may be there, while
the lake's quarantine keeps it (proof it was there to leak)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from assets.core.storage import LakeAt
from tests.e2e.daemon import ROOT, cli_env, dagster

pytestmark = pytest.mark.e2e

NAME = "Zelda Quixotewright"
EMAIL = "zelda.quixotewright@privacy-probe.example"
PHONE = "+33 6 47 58 69 12"
BIRTH = "1987-03-04"
# What may not appear anywhere people read (case-insensitive): the values and their parts. The
# masks keep an e-mail's domain and first letter, a phone's country code and last two digits,
# a birth date's year.
FORBIDDEN = ("Quixotewright", "zelda.quixotewright", "47 58 69", "647586912", BIRTH)

FEEDBACK_SPEC = """\
name: feedback
description: Free-text feedback from customers.
key: [feedback_id]
columns:
  - {name: feedback_id, type: string, required: true, unique: true}
  - {name: customer_id, type: string, required: true}
  - {name: comment, type: string, pattern: "^[^@]*$", description: "No e-mail addresses, please"}
  - {name: score, type: integer, min: 1, max: 5}
foreign_keys:
  - {columns: [customer_id], references: customers, ref_columns: [customer_id]}
thresholds: {validity: 0.3, overall_score: 30}
"""


def _plant(landing: Path) -> None:
    """Customers' first row valid and personal, its second quarantined (malformed e-mail,
    phone and birth date quoting the same person); feedback whose free text holds them."""
    path = next((landing / "customers").glob("*.csv"))
    customers = pl.read_csv(path, infer_schema=False)
    planted = {
        0: {"name": NAME, "email": EMAIL, "phone": PHONE, "birth_date": BIRTH},
        1: {
            "name": NAME,
            "email": EMAIL.replace("@", " at "),
            "phone": PHONE + " ext 9",
            "birth_date": "c. " + BIRTH,  # no date: its text goes to _ingest_errors
        },
    }
    for row, values in planted.items():
        for column, value in values.items():
            customers[row, column] = value
    customers.write_csv(path)
    ids = customers["customer_id"].head(2).to_list()
    comment = f"Please call me on {PHONE} or write to {EMAIL}, thanks"
    feedback = landing / "feedback"
    feedback.mkdir()
    pl.DataFrame(
        {
            "feedback_id": ["F1", "F2", "F3"],
            "customer_id": [ids[0], ids[1], ids[0]],
            "comment": [comment, comment, "great product"],
            "score": ["5", "9", "4"],
        }
    ).write_csv(feedback / "feedback.csv")


def _table(folder: Path) -> str:
    return pl.read_parquet(folder / "*.parquet").write_ndjson()


def _leaks(text: str) -> list[str]:
    return [v for v in FORBIDDEN if re.search(re.escape(v), text, re.IGNORECASE)]


def _event_log_texts(home: Path) -> dict[str, str]:
    """Every event of every run as Dagster stored it (metadata, check results, log messages,
    failures), read through the instance API."""
    texts: dict[str, str] = {}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_run_records()
        assert runs, "no run in the instance"
        for record in runs:
            run_id = record.dagster_run.run_id
            for i, entry in enumerate(instance.all_logs(run_id)):
                texts[f"event {run_id[:8]}#{i} {entry.dagster_event_type}"] = dg.serialize_value(
                    entry
                )
    return texts


def _file_texts(root: Path) -> dict[str, str]:
    texts = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            texts[str(path)] = pl.read_parquet(path).write_ndjson()
        else:
            texts[str(path)] = path.read_bytes().decode("utf-8", errors="replace")
    return texts


def test_planted_personal_data_reaches_no_output_people_read(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copyfile(ROOT / "dagster.yaml", home / "dagster.yaml")
    data = tmp_path / "data"
    landing = data / "landing"
    generate = Path(sys.executable).with_name("pipeline-generate")
    subprocess.run([generate, "--out", landing, "--format", "csv"], check=True, timeout=300)
    _plant(landing)
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "feedback.yaml").write_text(FEEDBACK_SPEC)
    env = cli_env(tmp_path, home, PIPELINE_PII_HASH_KEY="e2e-secret")
    for name in ("PIPELINE_PG_URL", "PIPELINE_API_BASE_URL", "PIPELINE_ALERT_WEBHOOK_URL"):
        env.pop(name, None)

    done = dagster(env, "asset", "materialize", "-m", "pipeline_defs", "--select", "*", timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]

    # The lake's quarantine keeps the real values: they were there to leak.
    lake = data / "lake" / "validation"
    quarantined = _table(lake / "quarantined_customers")
    assert NAME in quarantined and EMAIL.replace("@", " at ") in quarantined
    assert PHONE in quarantined and BIRTH in quarantined
    published = LakeAt(str(data / "lake")).scan("validation", "validated_customers")
    assert EMAIL in published.collect().write_ndjson()
    assert EMAIL in _table(lake / "quarantined_feedback")

    outputs = {
        "cli stdout": done.stdout,
        "cli stderr": done.stderr,
        # the pages, their JSON twins, the data dictionary's pages, the exports
        **_file_texts(data / "reports"),
        **_file_texts(home / "storage"),  # the runs' captured stdout and stderr
        **_event_log_texts(home),
    }
    assert any(k.endswith("quality_report.html") for k in outputs)
    assert any(k.endswith("dictionary/customers.html") for k in outputs)
    assert any(k.endswith("dictionary/feedback.html") for k in outputs)
    assert any("/exports/" in k for k in outputs)
    assert any("compute_logs" in k and outputs[k] for k in outputs)  # the run's stderr
    leaks = {place: found for place, text in outputs.items() if (found := _leaks(text))}
    assert not leaks, f"personal data in {len(leaks)} outputs: {dict(list(leaks.items())[:10])}"

    # ...and they were shown, masked: the planted rows are in the previews and the examples.
    everything = "\n".join(outputs.values())
    for masked in ("Z***", "z***@privacy-probe.example", "+33 ** ** ** 12"):
        assert masked in everything, masked
    page = (data / "reports" / "quality_report.html").read_text().replace("&#x27;", "'")
    assert "email 'z***' does not look like email" in page
    assert "phone '+33 ** ** ** 29' does not look like phone" in page
    assert "birth_date is not a valid date: '1987'" in page
    assert "write to z***@privacy-probe.example" in page  # feedback's comment, by pattern
