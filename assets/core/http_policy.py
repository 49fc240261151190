"""The REST API client's policies, without Dagster: its errors, the circuit breaker, the rate
limiter, ``Retry-After`` parsing, and the origin a URL belongs to."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime

import httpx

RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
_DEFAULT_PORTS = {"http": 80, "https": 443}


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


class OriginRefusedError(ApiError):
    """A request (a redirect, a next link, an absolute URL) to an origin other than the one
    configured: refused before anything, credentials above all, is sent there."""


class CircuitOpenError(ApiError):
    """The breaker is open: the API failed repeatedly, so calls fail fast without a request."""


class MalformedResponseError(ApiError):
    """The server answered 2xx with a body that is not the JSON expected; ``body`` is kept, with
    every configured secret replaced by ***."""

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


def origin_of(url: httpx.URL | str) -> str:
    """``scheme://host:port`` of ``url`` (the default port spelled out), without path or query,
    which may carry secrets (a webhook's token)."""
    u = httpx.URL(url)
    port = u.port or _DEFAULT_PORTS.get(u.scheme, 0)
    return f"{u.scheme}://{u.host}:{port}"


class _OriginOnly(logging.Filter):
    """httpx logs every request's full URL at INFO, and a URL's path or query may be a secret (a
    webhook's token): its records keep only the origin."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{origin_of(a)}/..." if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def hide_url_paths_in_httpx_logs() -> None:
    """Install the filter on httpx's logger (once)."""
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _OriginOnly) for f in logger.filters):
        logger.addFilter(_OriginOnly())
