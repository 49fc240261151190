"""Alert messages for people: a Slack incoming webhook (through slack_sdk, which dagster-slack
brings) and e-mail over SMTP. Both take the same alert dict the alert sink writes."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from typing import Any

from slack_sdk.webhook import WebhookClient


def _title(alert: dict[str, Any]) -> str:
    if alert.get("kind") == "check_failure":
        return f"Blocking check failed: {alert['asset']} / {alert['check']}"
    if alert.get("kind") == "stale_data":
        return f"Data stale: {alert['asset']} (newest row {alert['lag_hours']} h old)"
    if alert.get("kind") == "run_failure":
        return f"Run failed: {alert['job']} ({alert['run_id'][:8]})"
    return f"Quality gates failed: {alert.get('asset')}"


def _facts(alert: dict[str, Any]) -> list[tuple[str, str]]:
    if alert.get("kind") == "check_failure":
        keys = ("asset", "check", "value", "threshold", "failing_rows")
    elif alert.get("kind") == "stale_data":
        keys = ("asset", "check", "newest_row", "lag_hours", "max_lag_hours")
    elif alert.get("kind") == "run_failure":
        keys = ("job", "run_id", "failed_steps")
    else:
        keys = ("asset", "failed_checks", "quality_score")
    return [(k, str(alert.get(k))) for k in keys]


def slack_payload(alert: dict[str, Any]) -> dict[str, Any]:
    """Slack's incoming-webhook body: ``text`` (the notification fallback) plus ``blocks``."""
    title = _title(alert)
    fields = [{"type": "mrkdwn", "text": f"*{k}*\n{v}"} for k, v in _facts(alert)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
        {"type": "section", "fields": fields[:10]},
    ]
    if alert.get("error"):
        text = f"```{str(alert['error'])[:2800]}```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    if alert.get("url"):
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in Dagster"},
                        "url": alert["url"],
                    }
                ],
            }
        )
    return {"text": f"{title} <{alert.get('url', '')}|open>", "blocks": blocks}


class SlackWebhookError(RuntimeError):
    # The status only: a server may echo the request, and the URL in it is the credential.
    def __init__(self, status: int) -> None:
        super().__init__(f"Slack webhook answered {status}")
        self.status = status


def post_slack(url: str, alert: dict[str, Any], timeout_s: float) -> None:
    """POST the alert to a Slack incoming webhook; raises on a non-200 answer."""
    payload = slack_payload(alert)
    answer = WebhookClient(url, timeout=int(max(timeout_s, 1))).send_dict(payload)
    if answer.status_code != 200:
        raise SlackWebhookError(answer.status_code)


def email_message(alert: dict[str, Any], sender: str, recipients: Sequence[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"[dq-pipeline] {_title(alert)}"
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    lines = [_title(alert), ""] + [f"{k}: {v}" for k, v in _facts(alert)]
    if alert.get("error"):
        lines += ["", str(alert["error"])]
    if alert.get("url"):
        lines += ["", f"Open in Dagster: {alert['url']}"]
    msg.set_content("\n".join(lines) + "\n")
    return msg


def send_email(
    msg: EmailMessage,
    *,
    host: str,
    port: int,
    username: str | None,
    password: str | None,
    starttls: bool,
    timeout_s: float,
) -> None:
    with smtplib.SMTP(host, port, timeout=timeout_s) as smtp:
        if starttls:
            smtp.starttls(context=ssl.create_default_context())
        if username:
            smtp.login(username, password or "")
        smtp.send_message(msg)
