"""A JSON REST API client on httpx, without Dagster: auth, pagination, retries, a rate limit, a
circuit breaker.

Retries use tenacity (exponential backoff with jitter, ``Retry-After`` honoured) on connect
errors, timeouts, 429 and 5xx. A circuit breaker opens after N consecutive failed attempts and
then fails fast until it cools down. Tokens and keys live only in request headers and are
scrubbed from every message this module raises, so they never reach logs or metadata.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any, Literal

import httpx
import tenacity

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
Pagination = Literal["none", "page", "offset", "cursor", "link"]


class ApiError(Exception):
    """A request that failed for good (after retries, or a status that is not worth retrying)."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False):
        super().__init__(message)
        self.status = status
        self.retryable = retryable


class TransientApiError(ApiError):
    """A failure worth another attempt; ``retry_after`` is the server's own wait, if it gave one."""

    def __init__(self, message: str, *, status: int | None = None, retry_after: float | None):
        super().__init__(message, status=status, retryable=True)
        self.retry_after = retry_after


class CircuitOpenError(ApiError):
    """The breaker is open: the API failed repeatedly, so calls fail fast without a request."""


class MalformedResponseError(ApiError):
    """The server answered 2xx with a body that is not the JSON expected; ``body`` is kept."""

    def __init__(self, message: str, body: bytes):
        super().__init__(message)
        self.body = body


@dataclass
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failures; after ``reset_s`` lets one trial through."""

    threshold: int
    reset_s: float
    failures: int = 0
    opened_at: float | None = None

    def before_call(self, what: str) -> None:
        if self.opened_at is None:
            return
        waited = time.monotonic() - self.opened_at
        if waited < self.reset_s:
            raise CircuitOpenError(
                f"circuit open for {what}: {self.failures} consecutive failures; "
                f"not calling again for {self.reset_s - waited:.0f} s"
            )
        # Half-open: let this one call through; a failure re-opens the breaker at once.

    def record(self, ok: bool) -> None:
        if ok:
            self.failures, self.opened_at = 0, None
            return
        self.failures += 1
        if self.failures >= self.threshold:
            self.opened_at = time.monotonic()


@dataclass
class RateLimiter:
    """At most ``per_second`` request starts per second (a simple token spacing)."""

    per_second: float | None
    _next: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def wait(self) -> None:
        if not self.per_second:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + 1.0 / self.per_second
        if delay > 0:
            time.sleep(delay)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """``Retry-After`` as seconds: either delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (time.time() if now is None else now))


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
                follow_redirects=True,
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

    def redact(self, text: str) -> str:
        """``text`` with every configured secret replaced by ***."""
        for secret in (self.settings.token, self.settings.client_secret, self._access_token):
            if secret:
                text = text.replace(secret, "***")
        return text

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

    def _attempt(self, method: str, url: str, with_auth: bool, **kwargs: Any) -> httpx.Response:
        client = self._client()
        what = f"{method} {httpx.URL(url).path or url}"
        self._breaker.before_call(what)
        self._limiter.wait()
        self._attempts += 1
        headers = dict(kwargs.pop("headers", None) or {})
        if with_auth:
            headers.update(self._auth_headers())
        try:
            response = client.request(method, url, headers=headers, **kwargs)
            if response.status_code == 401 and with_auth and self.settings.auth == "oauth2":
                # An expired or revoked token: fetch a new one and try once more at once.
                headers.update(self._auth_headers(refresh=True))
                response = client.request(method, url, headers=headers, **kwargs)
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
            raise ApiError(
                f"{what} answered {status}: {self.redact(response.text[:200])}", status=status
            )
        self._breaker.record(ok=True)
        return response

    def _count_retry(self) -> None:
        self._retries += 1

    def _send(
        self, method: str, url: str, *, with_auth: bool = True, **kwargs: Any
    ) -> httpx.Response:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(TransientApiError),
            stop=tenacity.stop_after_attempt(self.settings.max_attempts),
            wait=self._wait,
            reraise=True,
            before_sleep=lambda _state: self._count_retry(),
        )
        try:
            return retrying(self._attempt, method, url, with_auth, **kwargs)
        except TransientApiError as exc:
            raise ApiError(
                f"{exc} (gave up after {self.settings.max_attempts} attempts)", status=exc.status
            ) from None

    @staticmethod
    def _json(response: httpx.Response, what: str) -> Any:
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise MalformedResponseError(
                f"{what} returned malformed JSON ({getattr(exc, 'msg', exc)})",
                response.content,
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
                    f"GET {path} (page {number}): {exc.args[0]}", response.content
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
                url = nxt_link
        raise ApiError(f"GET {path}: more than {max_pages} pages; raise max_pages if expected")
