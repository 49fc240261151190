"""One asset check's result without Dagster, shared by the validation gates and the declarative
pipelines' checks: the wiring turns it into an ``AssetCheckResult``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

# ERROR on a blocking check holds back what comes after it; WARN only reports.
Severity = Literal["ERROR", "WARN"]


@dataclass(frozen=True)
class CheckOutcome:
    """One check's result: the wiring's ``AssetCheckResult`` without Dagster."""

    name: str
    passed: bool
    severity: Severity
    metadata: dict[str, Any]
    description: str | None = None
