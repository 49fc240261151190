"""Settings shared by several stages, read from the environment when definitions load."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OPTIONAL_ENV = (
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PIPELINE_PG_URL",
    "PIPELINE_API_BASE_URL",
    "PIPELINE_API_TOKEN",
    "PIPELINE_API_TOKEN_URL",
    "PIPELINE_API_CLIENT_ID",
    "PIPELINE_API_CLIENT_SECRET",
    "PIPELINE_ALERT_WEBHOOK_URL",
    "PIPELINE_SLACK_WEBHOOK_URL",
    "PIPELINE_SMTP_HOST",
    "PIPELINE_SMTP_PORT",
    "PIPELINE_SMTP_USERNAME",
    "PIPELINE_SMTP_PASSWORD",
    "PIPELINE_ALERT_EMAIL_FROM",
    "PIPELINE_ALERT_EMAIL_TO",
    "PIPELINE_REDIS_URL",
    "PIPELINE_KAFKA_BOOTSTRAP",
)


@dataclass(frozen=True)
class Settings:
    """Paths and environment. No secrets here: those reach resources through ``dg.EnvVar``."""

    data_dir: Path
    landing_uri: str
    lake_uri: str
    warehouse_path: Path
    quarantine_dir: Path
    reports_dir: Path
    datasets_dir: Path
    environment: str
    quality_policy: str | None
    executor: str
    # Which optional connections are configured (names only; values reach resources as EnvVar).
    env_present: frozenset[str] = frozenset()
    api_auth: str = "none"
    timezone: str = "UTC"
    sensor_interval_s: int = 30
    ui_url: str = "http://127.0.0.1:3000"
    # Daily partitions for datasets that declare `partitioning` (orders, tickets, usage), and
    # their first day. Off in the embedded demo: loading two years of history as 730 daily
    # partitions costs ~13k Dagster events (minutes on SQLite) for a 30-second pipeline.
    partitions: str = "none"
    partition_start: date = date(2024, 1, 1)
    # Whether `automation_sensor` starts running on an instance that has no state for it yet.
    # Off unless asked for (`tasks.py dev` asks), so a daemon started for something else (a
    # test, a one-off backfill) launches no automation runs of its own.
    automation: bool = False
    # How long versions of a validated table that are not published are kept.
    keep_versions_hours: float = 168.0
    # A user's broken spec file: "refuse" fails the load naming every problem (CI, the CLI);
    # "skip" loads the rest and shows the file as a failing spec_error_<file> asset (servers).
    spec_errors: str = "refuse"

    def has(self, name: str) -> bool:
        return name in self.env_present

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        policy = env.get("PIPELINE_QUALITY_POLICY") or None
        if policy not in (None, "block", "warn", "auto_fix"):
            raise ValueError(
                f"PIPELINE_QUALITY_POLICY must be block, warn or auto_fix, not {policy!r}"
            )
        executor = env.get("PIPELINE_EXECUTOR", "in_process")
        if executor not in ("in_process", "multiprocess"):
            raise ValueError(
                f"PIPELINE_EXECUTOR must be in_process or multiprocess, not {executor!r}"
            )
        api_auth = env.get("PIPELINE_API_AUTH") or (
            "bearer" if env.get("PIPELINE_API_TOKEN") else "none"
        )
        if api_auth not in ("none", "api_key", "bearer", "oauth2"):
            raise ValueError(
                f"PIPELINE_API_AUTH must be none, api_key, bearer or oauth2, not {api_auth!r}"
            )
        timezone = env.get("PIPELINE_TIMEZONE", "UTC")
        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"PIPELINE_TIMEZONE must be an IANA time zone such as Europe/Berlin, not "
                f"{timezone!r}"
            ) from None
        data_dir = Path(env.get("PIPELINE_DATA_DIR", "data")).absolute()
        for name in ("PIPELINE_LAKE_URI", "PIPELINE_LANDING_URI"):
            uri = env.get(name, "")
            if uri.startswith("s3://") and not uri[len("s3://") :].split("/")[0]:
                raise ValueError(
                    f"{name} must name a bucket, as in s3://bucket/prefix, not {uri!r}"
                )
        environment = env.get("PIPELINE_ENV") or "local"
        if environment not in ("local", "production"):
            raise ValueError(f"PIPELINE_ENV must be local or production, not {environment!r}")
        if environment == "production":
            # Any run worker (a pod, a process) must be able to run any step: the lake is the
            # only thing steps share, so it must be object storage, not a local folder.
            lake = env.get("PIPELINE_LAKE_URI", "")
            if not lake.startswith("s3://"):
                raise ValueError(
                    "PIPELINE_LAKE_URI must be s3://bucket/prefix when PIPELINE_ENV=production "
                    f"(every run worker reads and writes the lake), not {lake!r}"
                )
        partitions = env.get("PIPELINE_PARTITIONS") or "none"
        if partitions not in ("none", "daily"):
            raise ValueError(f"PIPELINE_PARTITIONS must be none or daily, not {partitions!r}")
        automation = env.get("PIPELINE_AUTOMATION") or "off"
        if automation not in ("on", "off"):
            raise ValueError(f"PIPELINE_AUTOMATION must be on or off, not {automation!r}")
        spec_errors = env.get("PIPELINE_SPEC_ERRORS") or "refuse"
        if spec_errors not in ("refuse", "skip"):
            raise ValueError(f"PIPELINE_SPEC_ERRORS must be refuse or skip, not {spec_errors!r}")
        start_text = env.get("PIPELINE_PARTITION_START") or "2024-01-01"
        try:
            partition_start = date.fromisoformat(start_text)
        except ValueError:
            raise ValueError(
                f"PIPELINE_PARTITION_START must be a date such as 2024-01-01, not {start_text!r}"
            ) from None
        return cls(
            data_dir=data_dir,
            landing_uri=env.get("PIPELINE_LANDING_URI", str(data_dir / "landing")),
            lake_uri=env.get("PIPELINE_LAKE_URI", str(data_dir / "lake")),
            warehouse_path=Path(
                env.get("PIPELINE_WAREHOUSE_PATH", str(data_dir / "warehouse.duckdb"))
            ),
            quarantine_dir=data_dir / "quarantine",
            reports_dir=data_dir / "reports",
            datasets_dir=Path(env.get("PIPELINE_DATASETS_DIR", "datasets")),
            environment=environment,
            quality_policy=policy,
            executor=executor,
            env_present=frozenset(k for k in OPTIONAL_ENV if env.get(k)),
            api_auth=api_auth,
            timezone=timezone,
            sensor_interval_s=_positive_int(env, "PIPELINE_SENSOR_INTERVAL_S", 30),
            ui_url=env.get("PIPELINE_UI_URL", "http://127.0.0.1:3000"),
            partitions=partitions,
            partition_start=partition_start,
            automation=automation == "on",
            keep_versions_hours=_hours(env, "PIPELINE_KEEP_VERSIONS_HOURS", 168.0),
            spec_errors=spec_errors,
        )


def _positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of seconds >= 1, not {raw!r}")
    return int(raw)


def _hours(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        hours = float(raw)
    except ValueError:
        hours = -1.0
    if not hours >= 0 or hours == float("inf"):
        raise ValueError(f"{name} must be a number of hours >= 0, not {raw!r}")
    return hours
