"""Raw assets fed by PostgreSQL, a REST API and an S3 landing zone, in real Dagster runs.

Every source is a real server on loopback: PostgreSQL (PIPELINE_TEST_PG_URL), pytest-httpserver
for the API, and moto's standalone S3 server.
"""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import dagster as dg
import polars as pl
import psycopg
import pytest
from psycopg import sql
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from assets.core.storage import LakeAt
from pipeline_defs import build_definitions
from pipeline_defs.settings import Settings
from resources.alerts import AlertSinkResource
from resources.rest_api import RestApiResource
from tests.runs import alert_run_failure

pytestmark = pytest.mark.e2e


def make_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return Settings.from_env(
        {
            "PIPELINE_DATA_DIR": str(tmp_path / "data"),
            "PIPELINE_DATASETS_DIR": str(tmp_path / "datasets"),
            **env,
        }
    )


def write_spec(settings: Settings, spec: dict) -> None:
    settings.datasets_dir.mkdir(parents=True, exist_ok=True)
    (settings.datasets_dir / f"{spec['name']}.yaml").write_text(json.dumps(spec))


def run(settings: Settings, *assets: str) -> dg.ExecuteInProcessResult:
    job = build_definitions(settings).resolve_implicit_global_asset_job_def()
    with dg.instance_for_test() as instance:
        return job.execute_in_process(
            instance=instance,
            asset_selection=[dg.AssetKey(a) for a in assets],
            raise_on_error=False,
        )


def meta(result: dg.ExecuteInProcessResult, asset: str) -> dict:
    for m in result.get_asset_materialization_events():
        if m.asset_key.to_user_string() == asset:
            return {k: v.value for k, v in m.materialization.metadata.items()}
    raise AssertionError(f"{asset} was not materialized")


def lake_rows(settings: Settings, group: str, table: str) -> pl.DataFrame:
    """The table as readers see it (a validated table's published version)."""
    return LakeAt(str(settings.data_dir / "lake")).scan(group, table).collect()


@pytest.mark.postgres
def test_postgres_source_is_incremental_on_its_watermark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_url: str, pg_schema: str
) -> None:
    table = sql.Identifier(pg_schema, "accounts")
    with psycopg.connect(pg_url) as conn:
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (account_id text PRIMARY KEY, balance numeric, "
                "updated_at timestamp NOT NULL)"
            ).format(table)
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} VALUES ('A1', 10.5, '2024-01-01 10:00'), "
                "('A2', -3, '2024-01-02 10:00'), ('A3', 7, '2024-01-03 10:00')"
            ).format(table)
        )
    settings = make_settings(tmp_path, monkeypatch, PIPELINE_PG_URL=pg_url)
    write_spec(
        settings,
        {
            "name": "crm_accounts",
            "description": "Accounts from the CRM database.",
            "source": {
                "kind": "postgres",
                "table": f"{pg_schema}.accounts",
                "watermark_column": "updated_at",
            },
            "key": ["account_id"],
            "thresholds": {"validity": 0.5, "overall_score": 50},
            "columns": [
                {"name": "account_id", "type": "string", "required": True, "unique": True},
                {"name": "balance", "type": "float", "min": 0},
                {"name": "updated_at", "type": "datetime", "required": True},
            ],
        },
    )
    first = run(settings, "raw_crm_accounts", "validated_crm_accounts", "quarantined_crm_accounts")
    assert first.success
    assert meta(first, "raw_crm_accounts")["new_rows"] == 3
    assert meta(first, "validated_crm_accounts")["rows_out"] == 2
    quarantined = lake_rows(settings, "validation", "quarantined_crm_accounts")
    assert quarantined["account_id"].to_list() == ["A2"]
    assert "range:balance" in quarantined["_rules"][0]

    again = run(settings, "raw_crm_accounts")
    assert again.success and meta(again, "raw_crm_accounts")["new_rows"] == 0

    with psycopg.connect(pg_url) as conn:
        conn.execute(
            sql.SQL(
                "INSERT INTO {} VALUES ('A4', 1, '2024-01-04 10:00'), ('A5', 2, '2024-01-05 10:00')"
            ).format(table)
        )
    third = run(settings, "raw_crm_accounts")
    assert meta(third, "raw_crm_accounts")["new_rows"] == 2
    raw = lake_rows(settings, "ingestion", "raw_crm_accounts")
    assert sorted(raw["account_id"].to_list()) == ["A1", "A2", "A3", "A4", "A5"]
    assert raw["_source_file"].str.starts_with(f"postgres/{pg_schema}.accounts/").all()


TICKETS = [
    {"ref": {"id": f"T{i}"}, "customer": f"C{i % 3}", "opened": f"2024-02-{i:02d}T09:00:00"}
    for i in range(1, 12)
]
TICKET_SPEC = {
    "name": "helpdesk_tickets",
    "description": "Tickets from the helpdesk API.",
    "source": {
        "kind": "api",
        "endpoint": "/v1/tickets",
        "records_path": "data",
        "pagination": "page",
        "page_size": 4,
        "field_map": {"ticket_ref": "ref.id", "customer_id": "customer", "opened_ts": "opened"},
    },
    "key": ["ticket_ref"],
    "columns": [
        {"name": "ticket_ref", "type": "string", "required": True, "unique": True},
        {"name": "customer_id", "type": "string", "required": True},
        {"name": "opened_ts", "type": "datetime", "required": True},
    ],
}


def test_api_source_pages_retries_and_never_shows_the_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    calls: list[int] = []

    def tickets(request: Request) -> Response:
        if request.headers.get("Authorization") != "Bearer tok-123-secret":
            return Response("unauthorized", status=401)
        calls.append(int(request.args["page"]))
        if calls.count(2) <= 2 and calls[-1] == 2:
            return Response("busy", status=503)  # page 2 fails twice, then works
        p, size = int(request.args["page"]), int(request.args["page_size"])
        return Response(
            json.dumps({"data": TICKETS[(p - 1) * size : p * size]}), mimetype="application/json"
        )

    httpserver.expect_request("/v1/tickets").respond_with_handler(tickets)
    settings = make_settings(
        tmp_path,
        monkeypatch,
        PIPELINE_API_BASE_URL=httpserver.url_for(""),
        PIPELINE_API_TOKEN="tok-123-secret",
    )
    write_spec(settings, TICKET_SPEC)
    result = run(settings, "raw_helpdesk_tickets")
    assert result.success
    m = meta(result, "raw_helpdesk_tickets")
    assert m["new_rows"] == 11
    assert m["api_requests"] == 5  # pages 1, 2 (x3), 3
    assert m["api_retries"] == 2
    raw = lake_rows(settings, "ingestion", "raw_helpdesk_tickets").sort("ticket_ref")
    assert raw["ticket_ref"].to_list() == sorted(t["ref"]["id"] for t in TICKETS)
    assert raw["opened_ts"].dtype == pl.Datetime("us")
    assert raw["_ingest_errors"].null_count() == raw.height
    everything = "\n".join(str(e) for e in result.all_events)
    assert "tok-123-secret" not in everything

    # The same records again are the same bytes: reported as a duplicate, not ingested twice.
    again = run(settings, "raw_helpdesk_tickets")
    assert meta(again, "raw_helpdesk_tickets")["files_duplicate"] == 1
    assert meta(again, "raw_helpdesk_tickets")["new_rows"] == 0


def test_api_malformed_page_is_quarantined_and_nothing_partial_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    def tickets(request: Request) -> Response:
        if request.args["page"] == "2":
            return Response('{"data": [{"ref": ', status=200, mimetype="application/json")
        return Response(json.dumps({"data": TICKETS[:4]}), mimetype="application/json")

    httpserver.expect_request("/v1/tickets").respond_with_handler(tickets)
    settings = make_settings(tmp_path, monkeypatch, PIPELINE_API_BASE_URL=httpserver.url_for(""))
    write_spec(settings, TICKET_SPEC)
    result = run(settings, "raw_helpdesk_tickets")
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    text = str(failure.event_specific_data)
    assert "page 2) returned malformed JSON" in text and "quarantined" in text
    sidecars = list(
        (settings.data_dir / "quarantine" / "files" / "helpdesk_tickets").glob("*.json")
    )
    assert len(sidecars) == 1
    sidecar = json.loads(sidecars[0].read_text())
    assert sidecar["file"] == "api/v1/tickets"
    assert Path(sidecar["copied_to"]).read_bytes() == b'{"data": [{"ref": '
    parts = list((settings.data_dir / "lake" / "ingestion" / "raw_helpdesk_tickets").glob("*-*"))
    assert all("schema" in p.name for p in parts), "no page of the broken pull may land"


def test_s3_landing_zone_ingests_quarantines_and_stays_idempotent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_env: dict[str, str]
) -> None:
    bucket = s3_env["BUCKET"]
    env = {k: v for k, v in s3_env.items() if k != "BUCKET"}
    settings = make_settings(
        tmp_path, monkeypatch, PIPELINE_LANDING_URI=f"s3://{bucket}/landing", **env
    )
    write_spec(
        settings,
        {
            "name": "shipments",
            "key": ["shipment_id"],
            "columns": [
                {"name": "shipment_id", "type": "string", "required": True, "unique": True},
                {"name": "weight_kg", "type": "float"},
            ],
        },
    )
    s3 = boto3.client("s3")
    good = b"shipment_id,weight_kg\nS1,1.5\nS2,oops\n"
    s3.put_object(Bucket=bucket, Key="landing/shipments/2024/a.csv", Body=good)
    s3.put_object(
        Bucket=bucket,
        Key="landing/shipments/b.ndjson",
        Body=b'{"shipment_id": "S3", "weight_kg": 2}\n',
    )
    s3.put_object(Bucket=bucket, Key="landing/shipments/c.parquet", Body=b"PAR1 not really")
    s3.put_object(Bucket=bucket, Key="landing/shipments/_manifest.json", Body=b"{}")
    etag_before = s3.head_object(Bucket=bucket, Key="landing/shipments/2024/a.csv")["ETag"]

    first = run(settings, "raw_shipments")
    assert first.success
    m = meta(first, "raw_shipments")
    assert (m["files_read"], m["files_quarantined"], m["new_rows"]) == (2, 1, 3)
    raw = lake_rows(settings, "ingestion", "raw_shipments").sort("shipment_id")
    assert raw["shipment_id"].to_list() == ["S1", "S2", "S3"]
    assert raw["_ingest_errors"].to_list()[1] == '{"weight_kg": "oops"}'
    assert raw["_source_file"].to_list()[0] == f"s3://{bucket}/landing/shipments/2024/a.csv"
    sidecar = next((settings.data_dir / "quarantine" / "files" / "shipments").glob("*.json"))
    assert json.loads(sidecar.read_text())["file"] == f"s3://{bucket}/landing/shipments/c.parquet"
    checks = {c.check_name: c for c in first.get_asset_check_evaluations()}
    assert not checks["shipments_landing_files_readable"].passed

    second = run(settings, "raw_shipments")
    assert meta(second, "raw_shipments")["new_rows"] == 0
    s3.put_object(Bucket=bucket, Key="landing/shipments/copy-of-a.csv", Body=good)
    third = run(settings, "raw_shipments")
    assert meta(third, "raw_shipments")["files_duplicate"] == 1
    assert meta(third, "raw_shipments")["new_rows"] == 0
    assert s3.head_object(Bucket=bucket, Key="landing/shipments/2024/a.csv")["ETag"] == etag_before


def test_api_that_always_fails_alerts_once_without_a_retry_storm(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer
) -> None:
    hits: list[int] = []

    def down(_request: Request) -> Response:
        hits.append(1)
        return Response("maintenance", status=503)

    httpserver.expect_request("/v1/tickets").respond_with_handler(down)
    settings = make_settings(tmp_path, monkeypatch, PIPELINE_API_BASE_URL=httpserver.url_for(""))
    write_spec(settings, TICKET_SPEC)
    d = build_definitions(settings)
    alerts_log = tmp_path / "alerts.jsonl"
    resources = {
        **d.resources,
        "api": RestApiResource(
            base_url=httpserver.url_for(""), backoff_initial_s=0.01, max_attempts=3
        ),
    }
    raw = next(a for a in d.assets if dg.AssetKey("raw_helpdesk_tickets") in a.keys)
    with dg.instance_for_test() as instance:
        result = dg.materialize([raw], resources=resources, instance=instance, raise_on_error=False)
        assert not result.success
        alert_run_failure(instance, result.run_id, AlertSinkResource(log_path=str(alerts_log)))
    # 3 attempts per try, and the step's RetryPolicy allows 2 more tries: 9 requests at most.
    assert len(hits) == 9
    [alert] = [json.loads(line) for line in alerts_log.read_text().splitlines()]
    assert "answered 503 (gave up after 3 attempts)" in alert["error"]
    assert alert["failed_steps"] == ["raw_helpdesk_tickets"]
