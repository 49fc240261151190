"""The plain REST API client: settings, records paths, the breaker, redaction, and a paged read
against a real HTTP server on loopback (pytest-httpserver)."""

from __future__ import annotations

import pytest
from pytest_httpserver import HTTPServer

from assets.core.http import (
    ApiClient,
    ApiSettings,
    CircuitBreaker,
    CircuitOpenError,
    records_at,
)


def test_settings_refuse_an_auth_mode_without_its_credentials() -> None:
    with pytest.raises(ValueError, match="token: auth=bearer needs a token"):
        ApiSettings(base_url="http://x", auth="bearer")
    with pytest.raises(ValueError, match="token_url: auth=oauth2 needs token_url, client_id"):
        ApiSettings(base_url="http://x", auth="oauth2")
    assert ApiSettings(base_url="http://x", auth="api_key", token="k").token == "k"


def test_secrets_stay_out_of_the_settings_repr() -> None:
    settings = ApiSettings(base_url="http://x", auth="bearer", token="s3cret")
    assert "s3cret" not in repr(settings)
    assert ApiClient(settings).redact("Bearer s3cret failed") == "Bearer *** failed"


def test_records_at_follows_a_dotted_path() -> None:
    assert records_at([{"a": 1}], None) == [{"a": 1}]
    assert records_at({"data": {"items": [{"a": 1}]}}, "data.items") == [{"a": 1}]
    with pytest.raises(KeyError, match="missing 'items'"):
        records_at({"data": {}}, "data.items")
    with pytest.raises(KeyError, match="is a dict, not a list"):
        records_at({"data": {}}, "data")


def test_breaker_opens_after_the_threshold_and_closes_on_success() -> None:
    breaker = CircuitBreaker(threshold=2, reset_s=3600)
    breaker.record(ok=False)
    breaker.before_call("GET /x")  # one failure: still closed
    breaker.record(ok=False)
    with pytest.raises(CircuitOpenError, match="2 consecutive failures"):
        breaker.before_call("GET /x")
    breaker.record(ok=True)
    breaker.before_call("GET /x")
    assert breaker.failures == 0


def test_an_open_breaker_lets_one_trial_through_once_cooled_down() -> None:
    breaker = CircuitBreaker(threshold=1, reset_s=0)
    breaker.record(ok=False)
    breaker.before_call("GET /x")  # half-open: no error


def test_client_reads_every_page_and_counts_requests(httpserver: HTTPServer) -> None:
    rows = [{"id": i} for i in range(5)]
    httpserver.expect_request("/items", query_string="offset=0&limit=2").respond_with_json(
        rows[0:2]
    )
    httpserver.expect_request("/items", query_string="offset=2&limit=2").respond_with_json(
        rows[2:4]
    )
    httpserver.expect_request("/items", query_string="offset=4&limit=2").respond_with_json(rows[4:])
    client = ApiClient(ApiSettings(base_url=httpserver.url_for("")))
    try:
        pages = list(client.iter_pages("/items", pagination="offset", page_size=2))
    finally:
        client.close()
    assert [r["id"] for page in pages for r in page] == [0, 1, 2, 3, 4]
    assert client.attempts == 3
    assert client.retries == 0
