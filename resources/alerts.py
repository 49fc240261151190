"""Where alerts go: a JSON-lines log file, a webhook (through a durable outbox), or both."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import Field, model_validator

from assets.core.outbox import DeliveryPolicy, DeliveryReport, WebhookOutbox, append_json_line
from assets.core.privacy import mask_json
from resources.notify import SlackWebhookError, email_message, post_slack, send_email


class AlertSinkResource(dg.ConfigurableResource):
    """Alerts as one JSON object per line in ``log_path`` and/or POSTed to ``webhook_url``.

    A webhook alert is queued in ``outbox_dir`` and sent from there: a failed delivery is
    retried with backoff on later sends and sensor ticks, then dead-lettered with its reason to
    ``webhook-dead-letters.jsonl``; it never holds back the alerts after it.
    """

    log_path: str | None = Field(
        default=None, description="JSON-lines file that receives every alert (appended)."
    )
    webhook_url: str | None = Field(
        default=None,
        repr=False,
        description="URL that receives each alert as a JSON POST (use dg.EnvVar; may hold a "
        "token, so it is never logged: messages name only its scheme, host and port).",
    )
    outbox_dir: str | None = Field(
        default=None,
        description="Folder of the webhook's queue and dead letters; default: log_path's folder.",
    )
    ui_base_url: str = Field(
        default="http://127.0.0.1:3000", description="Dagster UI root, for links to runs."
    )
    timeout_s: float = Field(default=10.0, gt=0, description="Webhook timeout per attempt.")
    webhook_max_attempts: int = Field(
        default=5, ge=1, le=50, description="Attempts per alert before it is dead-lettered."
    )
    webhook_backoff_s: float = Field(
        default=60.0, ge=0, description="Wait after the first failed attempt; doubles after each."
    )

    slack_webhook_url: str | None = Field(
        default=None,
        repr=False,
        description="Slack incoming-webhook URL (a secret: use dg.EnvVar); off when unset.",
    )
    smtp_host: str | None = Field(default=None, description="SMTP server; e-mail is off unset.")
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_starttls: bool = Field(default=True, description="STARTTLS before login and send.")
    smtp_username: str | None = Field(default=None, description="SMTP login (dg.EnvVar).")
    smtp_password: str | None = Field(
        default=None, repr=False, description="SMTP password (a secret: use dg.EnvVar)."
    )
    email_from: str = Field(default="dq-pipeline@localhost")
    email_to: str | None = Field(default=None, description="Comma-separated recipients.")

    @model_validator(mode="after")
    def _outbox_has_a_home(self) -> AlertSinkResource:
        if self.webhook_url and not (self.outbox_dir or self.log_path):
            raise ValueError(
                "outbox_dir: a webhook needs a folder for alerts not yet delivered "
                "(set outbox_dir or log_path)"
            )
        return self

    def run_url(self, run_id: str) -> str:
        return f"{self.ui_base_url.rstrip('/')}/runs/{run_id}"

    def outbox(self) -> WebhookOutbox | None:
        """The webhook's queue, or None without a webhook."""
        if not self.webhook_url:
            return None
        folder = Path(self.outbox_dir) if self.outbox_dir else Path(str(self.log_path)).parent
        policy = DeliveryPolicy(
            max_attempts=self.webhook_max_attempts,
            backoff_s=self.webhook_backoff_s,
            timeout_s=self.timeout_s,
        )
        return WebhookOutbox(folder, self.webhook_url, policy)

    def send(self, alert: dict[str, Any]) -> DeliveryReport | None:
        """Write ``alert`` (plus a timestamp) to the log, queue it for the webhook, and send what
        the webhook is due; a failed delivery is kept for a retry, never raised. Any e-mail
        address or phone number in its text is masked first: an error message may quote data."""
        record = mask_json({"at": datetime.now(UTC).isoformat(timespec="seconds"), **alert})
        if self.log_path:
            append_json_line(Path(self.log_path), record)
        outbox = self.outbox()
        if outbox is None:
            return None
        outbox.enqueue(record)
        return outbox.deliver_due()

    def deliver_pending(self) -> DeliveryReport | None:
        """Retry the webhook alerts whose backoff has passed (a sensor calls this every tick)."""
        outbox = self.outbox()
        return outbox.deliver_due() if outbox is not None else None

    def notify(self, alert: dict[str, Any]) -> list[str]:
        """Send ``alert`` to Slack and by e-mail, each where configured; returns one line per
        sink that failed (never raises: one sink down must not silence the other). Personal
        data in its text is masked first, as for ``send``."""
        alert = mask_json(alert)
        problems: list[str] = []
        if self.slack_webhook_url:
            try:
                post_slack(self.slack_webhook_url, alert, self.timeout_s)
            except Exception as exc:  # a broken sink is reported, the others still run
                # Only the kind of error: the webhook URL is the credential and must not reach logs.
                known = isinstance(exc, SlackWebhookError)  # its text is the status only
                problems.append(f"slack: {exc}" if known else f"slack: {type(exc).__name__}")
        recipients = [r.strip() for r in (self.email_to or "").split(",") if r.strip()]
        if self.smtp_host and recipients:
            try:
                send_email(
                    email_message(alert, self.email_from, recipients),
                    host=self.smtp_host,
                    port=self.smtp_port,
                    username=self.smtp_username,
                    password=self.smtp_password,
                    starttls=self.smtp_starttls,
                    timeout_s=self.timeout_s,
                )
            except Exception as exc:
                problems.append(f"email: {type(exc).__name__}: {str(exc)[:200]}")
        return problems
