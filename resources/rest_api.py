"""A REST API source and sink as a resource: its configuration, over ``assets.core.http``.

Retries, backoff, the rate limit, the circuit breaker, pagination and the redaction of secrets
are the client's (``assets.core.http.ApiClient``); this resource holds the settings Dagster shows
and resolves (``dg.EnvVar``), and one client per resource instance.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any, Literal

import dagster as dg
import httpx
from pydantic import Field, PrivateAttr, model_validator

from assets.core.http import (
    ApiClient,
    ApiError,
    ApiSettings,
    CircuitOpenError,
    MalformedResponseError,
    TransientApiError,
    retry_after_seconds,
)

# The errors callers catch, importable with the resource that raises them.
__all__ = [
    "ApiError",
    "CircuitOpenError",
    "MalformedResponseError",
    "RestApiResource",
    "TransientApiError",
    "retry_after_seconds",
]

_DEFAULT = ApiSettings(base_url="")


class RestApiResource(dg.ConfigurableResource):
    """A JSON REST API: base URL, auth, pagination, timeouts, retries, rate limit, breaker."""

    base_url: str = Field(description="API root, e.g. https://api.example.com/v1.")
    auth: Literal["none", "api_key", "bearer", "oauth2"] = Field(
        default=_DEFAULT.auth,
        description="none, api_key (a header), bearer, or oauth2 client credentials.",
    )
    token: str | None = Field(
        default=None,
        repr=False,
        description="API key or bearer token (use dg.EnvVar('PIPELINE_API_TOKEN')). Never logged.",
    )
    api_key_header: str = Field(
        default=_DEFAULT.api_key_header, description="Header for auth=api_key."
    )
    token_url: str | None = Field(default=None, description="OAuth2 token endpoint.")
    client_id: str | None = Field(default=None, description="OAuth2 client id.")
    client_secret: str | None = Field(
        default=None, repr=False, description="OAuth2 client secret (use dg.EnvVar). Never logged."
    )
    timeout_s: float = Field(
        default=_DEFAULT.timeout_s, gt=0, description="Connect and read timeout."
    )
    max_attempts: int = Field(
        default=_DEFAULT.max_attempts, ge=1, le=20, description="Attempts per request."
    )
    backoff_initial_s: float = Field(
        default=_DEFAULT.backoff_initial_s, ge=0, description="First backoff wait."
    )
    backoff_max_s: float = Field(
        default=_DEFAULT.backoff_max_s, ge=0, description="Longest backoff wait."
    )
    max_retry_after_s: float = Field(
        default=_DEFAULT.max_retry_after_s,
        ge=0,
        description="Longest Retry-After the client will honour.",
    )
    rate_limit_per_s: float | None = Field(
        default=None, gt=0, description="Client-side cap on requests per second."
    )
    breaker_threshold: int = Field(
        default=_DEFAULT.breaker_threshold,
        ge=1,
        description="Consecutive failed attempts that open the circuit.",
    )
    breaker_reset_s: float = Field(
        default=_DEFAULT.breaker_reset_s, ge=0, description="How long an open circuit fails fast."
    )

    _client: ApiClient | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _auth_complete(self) -> RestApiResource:
        self.settings()  # refuses an auth mode without its credentials
        return self

    def settings(self) -> ApiSettings:
        """This configuration as the client's settings."""
        return ApiSettings(
            **{f.name: getattr(self, f.name) for f in dataclasses.fields(ApiSettings)}
        )

    @property
    def client(self) -> ApiClient:
        """The API client (one per resource instance, opened on first use)."""
        if self._client is None:
            self._client = ApiClient(self.settings())
        return self._client

    @property
    def attempts(self) -> int:
        """Requests sent so far (retries included), for metadata."""
        return self.client.attempts

    @property
    def retries(self) -> int:
        """Attempts that repeated a failed request, for metadata."""
        return self.client.retries

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        self.close()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def redact(self, text: str) -> str:
        """``text`` with every configured secret replaced by ***."""
        return self.client.redact(text)

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> Any:
        return self.client.get_json(path, params)

    def post_json(self, path_or_url: str, payload: Any) -> httpx.Response:
        """POST a JSON body (alerts, webhooks); same retries, breaker and redaction."""
        return self.client.post_json(path_or_url, payload)

    def iter_pages(self, path: str, **options: Any) -> Iterator[list[dict[str, Any]]]:
        """Each page's records, following the pagination style (``ApiClient.iter_pages``)."""
        return self.client.iter_pages(path, **options)
