"""RestApiResource against a real HTTP server on loopback (pytest-httpserver, werkzeug)."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable

import pytest
import tenacity
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from assets.core.http import ApiClient, RateLimiter
from resources.rest_api import (
    ApiError,
    CircuitOpenError,
    MalformedResponseError,
    RestApiResource,
    retry_after_seconds,
)

ROWS = [{"id": i, "name": f"n{i}"} for i in range(1, 8)]


def fast(server: HTTPServer, **kw) -> RestApiResource:
    """Short backoff so retry tests take milliseconds, not seconds."""
    return RestApiResource(
        base_url=server.url_for(""), backoff_initial_s=0.01, backoff_max_s=0.05, **kw
    )


def counting(fn: Callable[[Request, int], Response]) -> tuple[Callable[[Request], Response], list]:
    calls: list[Request] = []

    def handler(request: Request) -> Response:
        calls.append(request)
        return fn(request, len(calls))

    return handler, calls


def as_json(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, mimetype="application/json")


def test_page_pagination_reads_every_page(httpserver: HTTPServer) -> None:
    def page(request: Request, _n: int) -> Response:
        p, size = int(request.args["page"]), int(request.args["page_size"])
        return as_json({"data": ROWS[(p - 1) * size : p * size]})

    handler, calls = counting(page)
    httpserver.expect_request("/items").respond_with_handler(handler)
    api = fast(httpserver)
    pages = list(api.iter_pages("/items", records_path="data", pagination="page", page_size=3))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [r["id"] for p in pages for r in p] == list(range(1, 8))
    assert len(calls) == 3


def test_offset_cursor_and_link_pagination(httpserver: HTTPServer) -> None:
    def offset(request: Request, _n: int) -> Response:
        o, lim = int(request.args["offset"]), int(request.args["limit"])
        return as_json(ROWS[o : o + lim])

    def cursor(request: Request, _n: int) -> Response:
        start = int(request.args.get("cursor", 0))
        nxt = start + 4 if start + 4 < len(ROWS) else None
        return as_json({"items": ROWS[start : start + 4], "meta": {"next": nxt}})

    def link(request: Request, _n: int) -> Response:
        start = int(request.args.get("from", 0))
        headers = {}
        if start + 5 < len(ROWS):
            headers["Link"] = f'<{httpserver.url_for("/linked")}?from={start + 5}>; rel="next"'
        return as_json(ROWS[start : start + 5], headers=headers)

    httpserver.expect_request("/offset").respond_with_handler(counting(offset)[0])
    httpserver.expect_request("/cursor").respond_with_handler(counting(cursor)[0])
    httpserver.expect_request("/linked").respond_with_handler(counting(link)[0])
    api = fast(httpserver)
    got = [r["id"] for p in api.iter_pages("/offset", pagination="offset", page_size=2) for r in p]
    assert got == list(range(1, 8))
    got = [
        r["id"]
        for p in api.iter_pages(
            "/cursor", records_path="items", pagination="cursor", next_cursor_path="meta.next"
        )
        for r in p
    ]
    assert got == list(range(1, 8))
    got = [r["id"] for p in api.iter_pages("/linked", pagination="link") for r in p]
    assert got == list(range(1, 8))


def test_503_twice_then_success_is_retried(httpserver: HTTPServer) -> None:
    handler, calls = counting(
        lambda _r, n: as_json({"err": "busy"}, 503) if n <= 2 else as_json({"ok": True})
    )
    httpserver.expect_request("/flaky").respond_with_handler(handler)
    api = fast(httpserver)
    assert api.get_json("/flaky") == {"ok": True}
    assert len(calls) == 3
    assert api.attempts == 3


class RecordingClient(ApiClient):
    """The real client, recording each wait it chose before a retry (tenacity sleeps it) and,
    through its limiter, the start slot it gave each request."""

    def __init__(self, settings) -> None:
        super().__init__(settings)
        self.waits: list[float] = []
        self._limiter = RecordingLimiter(settings.rate_limit_per_s)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        chosen = super()._wait(state)
        self.waits.append(chosen)
        return chosen


class RecordingApi(RestApiResource):
    """The real resource over a recording client."""

    @property
    def client(self) -> RecordingClient:
        if self._client is None:
            self._client = RecordingClient(self.settings())
        assert isinstance(self._client, RecordingClient)
        return self._client

    @property
    def _waits(self) -> list[float]:
        return self.client.waits


def test_429_honours_retry_after(httpserver: HTTPServer) -> None:
    handler, calls = counting(
        lambda _r, n: as_json({}, 429, {"Retry-After": "1"}) if n == 1 else as_json([1])
    )
    httpserver.expect_request("/limited").respond_with_handler(handler)
    api = RecordingApi(base_url=httpserver.url_for(""), backoff_initial_s=0.01, backoff_max_s=0.05)
    assert api.get_json("/limited") == [1]
    # The backoff alone would wait at most 0.05 s; the server asked for 1 s and got it.
    assert api._waits == [1.0]
    assert len(calls) == 2


def test_retry_after_beyond_the_ceiling_is_cut_to_it(httpserver: HTTPServer) -> None:
    handler, _calls = counting(
        lambda _r, n: as_json({}, 503, {"Retry-After": "3600"}) if n == 1 else as_json([1])
    )
    httpserver.expect_request("/slow").respond_with_handler(handler)
    api = RecordingApi(
        base_url=httpserver.url_for(""), backoff_initial_s=0.01, max_retry_after_s=0.02
    )
    assert api.get_json("/slow") == [1]
    assert api._waits == [0.02]


def test_retry_after_parses_seconds_and_http_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:10 GMT", now=1445412480.0) == 10.0
    assert retry_after_seconds("soon") is None


def test_gives_up_after_max_attempts_with_a_clear_message(httpserver: HTTPServer) -> None:
    handler, calls = counting(lambda _r, _n: as_json({}, 500))
    httpserver.expect_request("/down").respond_with_handler(handler)
    api = fast(httpserver, max_attempts=3)
    with pytest.raises(ApiError, match=r"GET /down answered 500 \(gave up after 3 attempts\)"):
        api.get_json("/down")
    assert len(calls) == 3


def test_client_errors_are_not_retried(httpserver: HTTPServer) -> None:
    handler, calls = counting(lambda _r, _n: as_json({"error": "nope"}, 404))
    httpserver.expect_request("/missing").respond_with_handler(handler)
    with pytest.raises(ApiError, match="answered 404"):
        fast(httpserver).get_json("/missing")
    assert len(calls) == 1


def test_circuit_opens_and_fails_fast(httpserver: HTTPServer) -> None:
    handler, calls = counting(lambda _r, _n: as_json({}, 503))
    httpserver.expect_request("/broken").respond_with_handler(handler)
    api = fast(httpserver, max_attempts=2, breaker_threshold=4, breaker_reset_s=60)
    for _ in range(2):
        with pytest.raises(ApiError):
            api.get_json("/broken")
    assert len(calls) == 4
    with pytest.raises(CircuitOpenError, match="circuit open for GET /broken: 4 consecutive"):
        api.get_json("/broken")
    assert len(calls) == 4, "an open circuit must not send a request"


def test_malformed_json_page_keeps_the_body(httpserver: HTTPServer) -> None:
    def page(request: Request, _n: int) -> Response:
        if request.args["page"] == "2":
            return Response('{"data": [{"id": 3', status=200, mimetype="application/json")
        return as_json({"data": ROWS[:2]})

    httpserver.expect_request("/pages").respond_with_handler(counting(page)[0])
    api = fast(httpserver)
    with pytest.raises(MalformedResponseError, match=r"page 2\) returned malformed JSON") as err:
        list(api.iter_pages("/pages", records_path="data", pagination="page", page_size=2))
    assert err.value.body == b'{"data": [{"id": 3'


def test_expired_oauth_token_is_refreshed(httpserver: HTTPServer) -> None:
    tokens = iter(["tok-old", "tok-new"])
    issued: list[str] = []

    def token(request: Request, _n: int) -> Response:
        assert request.authorization and request.authorization.username == "cid"
        assert request.form["grant_type"] == "client_credentials"
        issued.append(next(tokens))
        return as_json({"access_token": issued[-1], "expires_in": 3600})

    def data(request: Request, _n: int) -> Response:
        if request.headers.get("Authorization") != "Bearer tok-new":
            return as_json({"error": "token expired"}, 401)
        return as_json([{"id": 1}])

    httpserver.expect_request("/oauth/token", method="POST").respond_with_handler(
        counting(token)[0]
    )
    httpserver.expect_request("/secure").respond_with_handler(counting(data)[0])
    api = fast(
        httpserver,
        auth="oauth2",
        token_url=httpserver.url_for("/oauth/token"),
        client_id="cid",
        client_secret="csecret",
    )
    assert api.get_json("/secure") == [{"id": 1}]
    assert issued == ["tok-old", "tok-new"]


def test_api_key_and_bearer_headers_and_secrets_never_in_messages(httpserver: HTTPServer) -> None:
    seen: list[dict] = []

    def echo(request: Request, _n: int) -> Response:
        seen.append(dict(request.headers))
        # A badly behaved server that echoes the credential back in its error body.
        return Response(f"bad credential {request.headers.get('X-Api-Key')}", status=403)

    httpserver.expect_request("/echo").respond_with_handler(counting(echo)[0])
    api = fast(httpserver, auth="api_key", token="s3cr3t-key")
    with pytest.raises(ApiError) as err:
        api.get_json("/echo")
    assert seen[0]["X-Api-Key"] == "s3cr3t-key"
    assert "s3cr3t-key" not in str(err.value)
    assert "***" in str(err.value)
    assert "s3cr3t-key" not in repr(api)

    httpserver.expect_request("/bearer").respond_with_json({"ok": 1})
    bearer = fast(httpserver, auth="bearer", token="tok")
    assert bearer.get_json("/bearer") == {"ok": 1}
    assert httpserver.log[-1][0].headers["Authorization"] == "Bearer tok"


def test_connection_refused_is_retried_then_reported(unused_port: int) -> None:
    api = RestApiResource(
        base_url=f"http://127.0.0.1:{unused_port}", backoff_initial_s=0.01, max_attempts=2
    )
    with pytest.raises(ApiError, match=r"ConnectError.*gave up after 2 attempts"):
        api.get_json("/x")
    assert api.attempts == 2


class RecordingLimiter(RateLimiter):
    """The real limiter, recording the start slot it gave each request and when it let it go."""

    def __init__(self, per_second: float | None) -> None:
        super().__init__(per_second)
        self.slots: list[tuple[float, float]] = []

    def wait(self) -> None:
        super().wait()
        if self.per_second:
            self.slots.append((self._next - 1.0 / self.per_second, time.monotonic()))


def test_rate_limit_spaces_requests(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/r").respond_with_json([])
    api = RecordingApi(base_url=httpserver.url_for(""), rate_limit_per_s=20)
    for _ in range(5):
        api.get_json("/r")
    limiter = api.client._limiter
    assert isinstance(limiter, RecordingLimiter) and len(limiter.slots) == 5
    slots = [slot for slot, _released in limiter.slots]
    # Slots at least 1/20 s apart, and no request let go before its slot.
    assert all(b - a >= 1 / 20 - 1e-9 for a, b in itertools.pairwise(slots))
    assert all(released >= slot for slot, released in limiter.slots)


def test_incomplete_auth_config_is_refused_naming_the_field() -> None:
    with pytest.raises(ValueError, match="token: auth=bearer needs a token"):
        RestApiResource(base_url="http://x", auth="bearer")
    with pytest.raises(ValueError, match="token_url: auth=oauth2 needs token_url"):
        RestApiResource(base_url="http://x", auth="oauth2")
