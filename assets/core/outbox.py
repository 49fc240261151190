"""Webhook alerts through a durable outbox, without Dagster: a failed delivery never blocks the
alerts behind it.

Each alert is queued in a SQLite file, then every due alert is POSTed once. A failure schedules
a retry with exponential backoff; after ``max_attempts`` failures, or at once when the webhook
refuses it for good (a 4xx other than 408 and 429), the alert is dead-lettered: appended with its
reason to a JSON-lines file, and removed from the queue. A webhook that cannot be reached counts
one failed attempt for every alert due in that pass, so a pass waits for at most one timeout.

The webhook URL is a secret (it often carries a token in its path or query): no reason, message
or file written here holds it, only its origin.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from assets.core.http import ApiClient, ApiError, ApiSettings, OriginRefusedError, origin_of

OUTBOX_FILE = "webhook-outbox.sqlite"
DEAD_LETTER_FILE = "webhook-dead-letters.jsonl"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    alert TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at REAL NOT NULL,
    last_error TEXT
)
"""


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 5
    backoff_s: float = 60.0
    backoff_max_s: float = 3600.0
    timeout_s: float = 10.0
    batch: int = 50  # most alerts sent per pass, so one pass stays short

    def delay(self, attempts: int) -> float:
        """The wait after the ``attempts``-th failure: backoff_s, then doubling, to the cap."""
        return min(self.backoff_s * 2 ** max(0, attempts - 1), self.backoff_max_s)


@dataclass(frozen=True)
class Failure:
    reason: str  # names the webhook by its origin only
    permanent: bool  # retrying will not help: dead-letter at once
    reached: bool  # the webhook answered (False: it could not be reached at all)


@dataclass(frozen=True)
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    dead_lettered: int = 0
    pending: int = 0  # still queued after this pass (not yet due, or retrying)

    def summary(self) -> str:
        return (
            f"webhook: {self.delivered} delivered, {self.retrying} to retry, "
            f"{self.dead_lettered} dead-lettered, {self.pending} queued"
        )


def append_json_line(path: Path, record: dict[str, Any]) -> None:
    """One write of one line with O_APPEND: concurrent writers never interleave lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, default=str) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


class WebhookOutbox:
    """The queue of alerts for one webhook, in ``folder``."""

    def __init__(self, folder: Path, webhook_url: str, policy: DeliveryPolicy) -> None:
        self.folder = folder
        self.url = webhook_url
        self.policy = policy
        self.where = f"the webhook at {origin_of(webhook_url)}"
        parsed = httpx.URL(webhook_url)
        # Every spelling of the secret parts: the path and query, raw and decoded.
        parts = {webhook_url, parsed.path, parsed.query.decode(), parsed.raw_path.decode()}
        self._secrets = sorted((p for p in parts if len(p) > 1), key=len, reverse=True)

    @property
    def dead_letters(self) -> Path:
        return self.folder / DEAD_LETTER_FILE

    def scrub(self, text: str) -> str:
        """``text`` without the webhook URL, its path or its query."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        self.folder.mkdir(parents=True, exist_ok=True)
        with closing(sqlite3.connect(self.folder / OUTBOX_FILE, timeout=30)) as db:
            db.execute(_SCHEMA)
            with db:  # one transaction
                yield db

    def enqueue(self, alert: dict[str, Any]) -> None:
        with self._db() as db:
            db.execute(
                "INSERT INTO outbox (alert, next_at) VALUES (?, ?)",
                (json.dumps(alert, default=str), time.time()),
            )

    def pending(self) -> int:
        with self._db() as db:
            return int(db.execute("SELECT count(*) FROM outbox").fetchone()[0])

    def _claim(self, now: float) -> list[tuple[int, str, int]]:
        """The due alerts, leased so that a concurrent pass does not send them too."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            rows = db.execute(
                "SELECT id, alert, attempts FROM outbox WHERE next_at <= ? ORDER BY id LIMIT ?",
                (now, self.policy.batch),
            ).fetchall()
            lease = now + 2 * self.policy.timeout_s + 5
            db.executemany(
                "UPDATE outbox SET next_at = ? WHERE id = ?", [(lease, r[0]) for r in rows]
            )
        return rows

    def _failed(self, row: tuple[int, str, int], reason: str, permanent: bool) -> bool:
        """Record a failed attempt; True when the alert was dead-lettered."""
        ident, alert, attempts = row
        attempts += 1
        with self._db() as db:
            if permanent or attempts >= self.policy.max_attempts:
                db.execute("DELETE FROM outbox WHERE id = ?", (ident,))
                append_json_line(
                    self.dead_letters,
                    {
                        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                        "reason": reason,
                        "attempts": attempts,
                        "alert": json.loads(alert),
                    },
                )
                return True
            db.execute(
                "UPDATE outbox SET attempts = ?, next_at = ?, last_error = ? WHERE id = ?",
                (attempts, time.time() + self.policy.delay(attempts), reason, ident),
            )
        return False

    def _post(self, client: ApiClient, alert: str) -> Failure | None:
        """Send one alert: None when delivered, else why not."""
        try:
            client.post_json(self.url, json.loads(alert))
        except OriginRefusedError:
            return Failure(f"{self.where} redirected to another origin (refused)", True, True)
        except ApiError as exc:
            if exc.status is None:  # no answer: refused connection, timeout, DNS
                return Failure(f"{self.where} is unreachable: {self.scrub(str(exc))}", False, False)
            permanent = exc.status < 500 and exc.status not in (408, 429)
            return Failure(f"{self.where} answered {exc.status}", permanent, True)
        return None

    def deliver_due(self, now: float | None = None) -> DeliveryReport:
        """Try every due alert once; never raises for a delivery that failed."""
        rows = self._claim(time.time() if now is None else now)
        delivered = retrying = dead = 0
        settings = ApiSettings(base_url=self.url, timeout_s=self.policy.timeout_s, max_attempts=1)
        client = ApiClient(settings)
        try:
            for i, row in enumerate(rows):
                failure = self._post(client, row[1])
                if failure is None:
                    with self._db() as db:
                        db.execute("DELETE FROM outbox WHERE id = ?", (row[0],))
                    delivered += 1
                    continue
                # An unreachable webhook would fail the rest of the pass the same way: count it
                # for each, rather than wait for one timeout per alert.
                for failed in [row] if failure.reached else rows[i:]:
                    if self._failed(failed, failure.reason, failure.permanent):
                        dead += 1
                    else:
                        retrying += 1
                if not failure.reached:
                    break
        finally:
            client.close()
        return DeliveryReport(delivered, retrying, dead, self.pending())
