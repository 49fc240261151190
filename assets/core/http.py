"""A JSON REST API client on httpx, without Dagster: auth, pagination, retries, a rate limit, a
circuit breaker.

Retries use tenacity (exponential backoff with jitter, ``Retry-After`` honoured) on connect
errors, timeouts, 429 and 5xx. A circuit breaker opens after N consecutive failed attempts and
then fails fast until it cools down. Tokens and keys live only in request headers and are
scrubbed from every message this module raises and every body it hands back, so they never reach
logs, metadata or the quarantine.

Requests go only to the configured origin (scheme, host and port of ``base_url``; the OAuth2
token request only to ``token_url``'s): a redirect or a ``Link: rel="next"`` to any other origin
is refused with an ``ApiError`` before anything is sent there, so credentials never follow the
data elsewhere. Same-origin redirects are followed, at most ``MAX_REDIRECTS`` of them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
import tenacity

from assets.core.http_policy import (
    RETRYABLE_STATUS,
    ApiError,
    CircuitBreaker,
    CircuitOpenError,
    MalformedResponseError,
    OriginRefusedError,
    RateLimiter,
    TransientApiError,
    hide_url_paths_in_httpx_logs,
    origin_of,
    retry_after_seconds,
)

# The errors and policies, importable with the client that uses them.
__all__ = [
    "ApiClient",
    "ApiError",
    "ApiSettings",
    "CircuitBreaker",
    "CircuitOpenError",
    "MalformedResponseError",
    "OriginRefusedError",
    "RateLimiter",
    "TransientApiError",
    "origin_of",
    "records_at",
    "retry_after_seconds",
]

hide_url_paths_in_httpx_logs()
MAX_REDIRECTS = 10
ERROR_BODY_CHARS = 200
Pagination = Literal["none", "page", "offset", "cursor", "link"]


def records_at(payload: Any, path: str | None) -> list[dict[str, Any]]:
    """The list of records at a dotted ``path`` in a JSON payload (the payload itself if none)."""
    node = payload
    for part in (path or "").split("."):
        if not part:
            continue
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"no {path!r} in the response (missing {part!r})")
        node = node[part]
    if not isinstance(node, list):
        raise KeyError(f"{path or 'the response'} is a {type(node).__name__}, not a list")
    return node


Auth = Literal["none", "api_key", "bearer", "oauth2"]


@dataclass(frozen=True)
class ApiSettings:
    """How to reach one API; the ``api`` resource builds one from its configuration, and its
    defaults are these."""

    base_url: str
    auth: Auth = "none"
    token: str | None = field(default=None, repr=False)
    api_key_header: str = "X-API-Key"
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    timeout_s: float = 30.0
    max_attempts: int = 5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    max_retry_after_s: float = 120.0
    rate_limit_per_s: float | None = None
    breaker_threshold: int = 10
    breaker_reset_s: float = 60.0

    def __post_init__(self) -> None:
        if self.auth in ("api_key", "bearer") and not self.token:
            raise ValueError(f"token: auth={self.auth} needs a token (PIPELINE_API_TOKEN)")
        if self.auth == "oauth2":
            missing = [
                f for f in ("token_url", "client_id", "client_secret") if not getattr(self, f)
            ]
            if missing:
                raise ValueError(f"{missing[0]}: auth=oauth2 needs {', '.join(missing)}")


class ApiClient:
    """One API's connection and its state: the HTTP client, the breaker, the rate limiter, the
    OAuth2 token, and the request counts."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self._http: httpx.Client | None = None
        self._breaker = CircuitBreaker(settings.breaker_threshold, settings.breaker_reset_s)
        self._limiter = RateLimiter(settings.rate_limit_per_s)
        self._access_token: str | None = None
        self._token_expires = 0.0
        self._attempts = 0
        self._retries = 0

    @property
    def attempts(self) -> int:
        """Requests sent so far (retries included), for metadata."""
        return self._attempts

    @property
    def retries(self) -> int:
        """Attempts that repeated a failed request, for metadata."""
        return self._retries

    def _client(self) -> httpx.Client:
        if self._http is None:
            if not self.settings.base_url:
                raise ApiError(
                    "no API base URL: set PIPELINE_API_BASE_URL or the resource's base_url"
                )
            self._http = httpx.Client(
                base_url=self.settings.base_url,
                timeout=httpx.Timeout(self.settings.timeout_s),
                # Redirects are followed by ``_request``, which checks each hop's origin first.
                follow_redirects=False,
                headers={"Accept": "application/json", "User-Agent": "dq-pipeline"},
            )
        return self._http

    def close(self) -> None:
        """Close the connection; the next request opens a new one with a fresh breaker."""
        if self._http is not None:
            self._http.close()
            self._http = None
            self._breaker = CircuitBreaker(
                self.settings.breaker_threshold, self.settings.breaker_reset_s
            )
            self._limiter = RateLimiter(self.settings.rate_limit_per_s)

    def _secrets(self) -> list[str]:
        found = (self.settings.token, self.settings.client_secret, self._access_token)
        # Longest first, so a secret that contains another is replaced whole.
        return sorted({s for s in found if s}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        """``text`` with every configured secret replaced by ***."""
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text

    def redact_bytes(self, body: bytes) -> bytes:
        """``body`` with every configured secret (as UTF-8) replaced by ***."""
        for secret in self._secrets():
            body = body.replace(secret.encode(), b"***")
        return body

    def _request(
        self, client: httpx.Client, method: str, url: str, allowed: str, **kwargs: Any
    ) -> httpx.Response:
        """Send, following same-origin redirects; a hop to another origin is refused unsent."""
        auth = kwargs.pop("auth", None)  # basic auth, for the token request
        request = client.build_request(method, url, **kwargs)
        for _hop in range(MAX_REDIRECTS + 1):
            target = origin_of(request.url)
            if target != allowed:
                raise OriginRefusedError(
                    f"{method} {httpx.URL(url).path or '/'}: refused a request to {target}: "
                    f"this client sends requests (and credentials) only to {allowed}"
                )
            response = client.send(request, auth=auth)
            if response.next_request is None:
                return response
            response.close()
            request = response.next_request
        raise ApiError(
            f"{method} {httpx.URL(url).path or '/'}: more than {MAX_REDIRECTS} redirects"
        )

    def _auth_headers(self, *, refresh: bool = False) -> dict[str, str]:
        if self.settings.auth == "api_key":
            return {self.settings.api_key_header: self.settings.token or ""}
        if self.settings.auth == "bearer":
            return {"Authorization": f"Bearer {self.settings.token}"}
        if self.settings.auth == "oauth2":
            if refresh or not self._access_token or time.monotonic() >= self._token_expires:
                self._fetch_oauth_token()
            return {"Authorization": f"Bearer {self._access_token}"}
        return {}

    def _fetch_oauth_token(self) -> None:
        assert self.settings.token_url and self.settings.client_id and self.settings.client_secret
        response = self._send(
            "POST",
            self.settings.token_url,
            data={"grant_type": "client_credentials"},
            auth=(self.settings.client_id, self.settings.client_secret),
            with_auth=False,
            allowed=origin_of(self.settings.token_url),
        )
        body = self._json(response, "the OAuth2 token endpoint")
        if not isinstance(body, dict) or "access_token" not in body:
            raise ApiError("the OAuth2 token endpoint returned no access_token")
        self._access_token = str(body["access_token"])
        lifetime = float(body.get("expires_in", 3600))
        self._token_expires = time.monotonic() + max(0.0, lifetime - 30)  # refresh a bit early

    def _wait(self, state: tenacity.RetryCallState) -> float:
        backoff = tenacity.wait_exponential_jitter(
            multiplier=self.settings.backoff_initial_s,
            max=self.settings.backoff_max_s,
            jitter=self.settings.backoff_initial_s,
        )(state)
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, TransientApiError) and exc.retry_after is not None:
            return min(max(exc.retry_after, backoff), self.settings.max_retry_after_s)
        return backoff

    def _attempt(
        self, method: str, url: str, with_auth: bool, allowed: str | None, **kwargs: Any
    ) -> httpx.Response:
        client = self._client()
        allowed = allowed or origin_of(self.settings.base_url)
        what = f"{method} {httpx.URL(url).path or '/'}"  # never the query: it may hold a key
        self._breaker.before_call(what)
        self._limiter.wait()
        self._attempts += 1
        headers = dict(kwargs.pop("headers", None) or {})
        if with_auth:
            headers.update(self._auth_headers())
        try:
            response = self._request(client, method, url, allowed, headers=headers, **kwargs)
            if response.status_code == 401 and with_auth and self.settings.auth == "oauth2":
                # An expired or revoked token: fetch a new one and try once more at once.
                headers.update(self._auth_headers(refresh=True))
                response = self._request(client, method, url, allowed, headers=headers, **kwargs)
        except (httpx.TransportError, httpx.TimeoutException) as exc:
            self._breaker.record(ok=False)
            raise TransientApiError(
                self.redact(f"{what} failed: {type(exc).__name__}: {exc}"), retry_after=None
            ) from None
        status = response.status_code
        if status in RETRYABLE_STATUS:
            self._breaker.record(ok=False)
            raise TransientApiError(
                f"{what} answered {status}",
                status=status,
                retry_after=retry_after_seconds(response.headers.get("Retry-After")),
            )
        if status >= 400:
            self._breaker.record(ok=False)
            # Redacted whole, then cut: a cut first could split a secret and leave its prefix.
            body = self.redact(response.text)[:ERROR_BODY_CHARS]
            raise ApiError(f"{what} answered {status}: {body}", status=status)
        self._breaker.record(ok=True)
        return response

    def _count_retry(self) -> None:
        self._retries += 1

    def _send(
        self,
        method: str,
        url: str,
        *,
        with_auth: bool = True,
        allowed: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientApiError),
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            reraise=True,
            before_sleep=lambda _state: self._count_retry(),
        )
        try:
            return retrying(self._attempt, method, url, with_auth, allowed, **kwargs)
        except TransientApiError as exc:
            raise ApiError(
                f"{exc} (gave up after {self.settings.max_attempts} attempts)", status=exc.status
            ) from None

    def _json(self, response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedResponseError(
                f"{what} returned malformed JSON ({getattr(exc, 'msg', exc)})",
                self.redact_bytes(response.content),
            ) from None

    # -- the API ------------------------------------------------------------------------------

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self._json(self._send("GET", path, params=params), f"GET {path}")

    def post_json(self, path_or_url: str, payload: Any) -> httpx.Response:
        """POST a JSON body (alerts, webhooks); same retries, breaker and redaction."""
        return self._send("POST", path_or_url, json=payload)

    def iter_pages(
        self,
        path: str,
        *,
        records_path: str | None = None,
        pagination: Pagination = "none",
        params: dict[str, Any] | None = None,
        page_size: int = 100,
        page_param: str = "page",
        size_param: str = "page_size",
        offset_param: str = "offset",
        limit_param: str = "limit",
        cursor_param: str = "cursor",
        next_cursor_path: str = "next_cursor",
        max_pages: int = 100_000,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's records, following the pagination style until it runs out."""
        base = dict(params or {})
        page, offset, cursor = 1, 0, None
        url: str | None = path
        for number in range(1, max_pages + 1):
            query = dict(base)
            if pagination == "page":
                query.update({page_param: page, size_param: page_size})
            elif pagination == "offset":
                query.update({offset_param: offset, limit_param: page_size})
            elif pagination == "cursor" and cursor is not None:
                query[cursor_param] = cursor
            assert url is not None
            response = self._send(
                "GET", url, params=query if number == 1 or pagination != "link" else None
            )
            payload = self._json(response, f"GET {path} (page {number})")
            try:
                records = records_at(payload, records_path)
            except KeyError as exc:
                raise MalformedResponseError(
                    f"GET {path} (page {number}): {exc.args[0]}",
                    self.redact_bytes(response.content),
                ) from None
            if records:
                yield records
            if pagination == "none":
                return
            if pagination in ("page", "offset"):
                if len(records) < page_size:
                    return
                page, offset = page + 1, offset + len(records)
            elif pagination == "cursor":
                nxt: Any = payload
                for part in next_cursor_path.split("."):
                    nxt = nxt.get(part) if isinstance(nxt, dict) else None
                if not nxt:
                    return
                cursor = nxt
            elif pagination == "link":
                nxt_link = response.links.get("next", {}).get("url")
                if not nxt_link:
                    return
                # Relative to the page that gave it (RFC 8288); its origin is checked on send.
                url = str(response.url.join(nxt_link))
        raise ApiError(f"GET {path}: more than {max_pages} pages; raise max_pages if expected")
