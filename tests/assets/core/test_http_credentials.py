"""Where the REST API client's credentials may go, and that secrets stay out of what it hands
back: real HTTP servers on loopback, one of them a different origin that must never hear from
the client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from assets.core.http import ApiClient, ApiError, ApiSettings, MalformedResponseError, origin_of
from assets.core.spec import DatasetSpec
from assets.ingestion.sources import SourcePullError, pull_api

TOKEN = "tok-PLANTED-8f3a91c2d7e4b6a5"


@pytest.fixture
def elsewhere() -> Iterator[HTTPServer]:
    """A second server: another origin (another host name and port) than ``httpserver``."""
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    yield server
    server.clear()
    if server.is_running():
        server.stop()


def other_origin(server: HTTPServer, path: str) -> str:
    return f"http://localhost:{server.port}{path}"


def client(server: HTTPServer, **settings) -> ApiClient:
    return ApiClient(ApiSettings(base_url=server.url_for(""), backoff_initial_s=0.01, **settings))


def test_origin_is_scheme_host_and_port_with_the_default_port_spelled_out() -> None:
    assert origin_of("https://api.example.com/v1?key=x") == "https://api.example.com:443"
    assert origin_of("http://api.example.com:80/") == "http://api.example.com:80"
    assert origin_of("https://api.example.com:8443/a") != origin_of("https://api.example.com/a")


def test_a_next_link_to_another_origin_is_refused_and_gets_no_token(
    httpserver: HTTPServer, elsewhere: HTTPServer
) -> None:
    httpserver.expect_request("/items").respond_with_response(
        Response(
            json.dumps([{"id": 1}]),
            headers={"Link": f'<{other_origin(elsewhere, "/items?page=2")}>; rel="next"'},
            mimetype="application/json",
        )
    )
    elsewhere.expect_request("/items").respond_with_json([{"id": 2}])
    api = client(httpserver, auth="bearer", token=TOKEN)
    pages = api.iter_pages("/items", pagination="link")
    assert next(pages) == [{"id": 1}]
    with pytest.raises(ApiError, match=r"refused a request to http://localhost:\d+") as err:
        next(pages)
    assert f"only to {origin_of(httpserver.url_for(''))}" in str(err.value)
    assert elsewhere.log == [], "the other origin must receive no request at all"
    assert httpserver.log[0][0].headers["Authorization"] == f"Bearer {TOKEN}"


def test_a_same_origin_next_link_relative_or_absolute_is_followed_with_the_token(
    httpserver: HTTPServer,
) -> None:
    def page(request: Request) -> Response:
        n = int(request.args.get("page", 1))
        links = {1: "</items?page=2>", 2: f"<{httpserver.url_for('/items')}?page=3>"}
        headers = {"Link": f'{links[n]}; rel="next"'} if n in links else {}
        return Response(json.dumps([{"id": n}]), headers=headers, mimetype="application/json")

    httpserver.expect_request("/items").respond_with_handler(page)
    api = client(httpserver, auth="bearer", token=TOKEN)
    got = [r["id"] for p in api.iter_pages("/items", pagination="link") for r in p]
    assert got == [1, 2, 3]
    assert [r.headers["Authorization"] for r, _ in httpserver.log] == [f"Bearer {TOKEN}"] * 3


def test_a_redirect_to_another_origin_is_refused_and_gets_no_api_key(
    httpserver: HTTPServer, elsewhere: HTTPServer
) -> None:
    httpserver.expect_request("/data").respond_with_response(
        Response(status=302, headers={"Location": other_origin(elsewhere, "/steal")})
    )
    elsewhere.expect_request("/steal").respond_with_json({"ok": True})
    api = client(httpserver, auth="api_key", token=TOKEN)
    with pytest.raises(ApiError, match="refused a request to") as err:
        api.get_json("/data")
    assert not err.value.retryable
    assert elsewhere.log == [], "the other origin must receive no request at all"
    assert TOKEN not in str(err.value)


def test_a_same_origin_redirect_is_followed_with_the_api_key(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/old").respond_with_response(
        Response(status=301, headers={"Location": "/new"})
    )
    httpserver.expect_request("/new").respond_with_json({"ok": True})
    api = client(httpserver, auth="api_key", token=TOKEN)
    assert api.get_json("/old") == {"ok": True}
    assert [r.path for r, _ in httpserver.log] == ["/old", "/new"]
    assert all(r.headers["X-API-Key"] == TOKEN for r, _ in httpserver.log)


def test_a_post_to_an_absolute_url_elsewhere_is_refused(
    httpserver: HTTPServer, elsewhere: HTTPServer
) -> None:
    elsewhere.expect_request("/hook").respond_with_json({"ok": True})
    api = client(httpserver, auth="bearer", token=TOKEN)
    with pytest.raises(ApiError, match="refused a request to"):
        api.post_json(other_origin(elsewhere, "/hook"), {"a": 1})
    assert elsewhere.log == []


def test_an_error_body_is_redacted_before_it_is_cut(httpserver: HTTPServer) -> None:
    # The token straddles the 200-character cut: cut first, its prefix would survive.
    body = "x" * 190 + TOKEN + " denied"
    httpserver.expect_request("/denied").respond_with_data(body, status=401)
    api = client(httpserver, auth="bearer", token=TOKEN)
    with pytest.raises(ApiError) as err:
        api.get_json("/denied")
    message = str(err.value)
    assert "answered 401" in message and "***" in message
    assert TOKEN[:6] not in message


def test_a_non_json_body_echoing_the_token_reaches_the_quarantine_redacted(
    httpserver: HTTPServer, tmp_path: Path
) -> None:
    httpserver.expect_request("/v1/tickets").respond_with_data(
        f"<html>proxy error; your header was Bearer {TOKEN}</html>", content_type="text/html"
    )
    api = client(httpserver, auth="bearer", token=TOKEN)
    with pytest.raises(MalformedResponseError) as err:
        api.get_json("/v1/tickets")
    assert TOKEN.encode() not in err.value.body and b"Bearer ***" in err.value.body

    spec = DatasetSpec.model_validate(
        {
            "name": "tickets",
            "columns": [{"name": "ref"}],
            "source": {"kind": "api", "endpoint": "/v1/tickets"},
        }
    )
    workdir, quarantine = tmp_path / "work", tmp_path / "quarantine"
    workdir.mkdir()
    with pytest.raises(SourcePullError, match="quarantined"):
        pull_api(spec, api, workdir, None, quarantine_dir=quarantine)
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.parent == quarantine for p in files)
    assert all(TOKEN.encode() not in p.read_bytes() for p in files)
