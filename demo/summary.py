"""What the demo prints when its run ends, from plain facts (no Dagster): rows in, valid and
quarantined per dataset, quality scores, the checks that warned or failed and why, the headline
insights, and links to the outputs that exist.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Metadata too long to read on one terminal line (samples, fences) is left to the UI.
MAX_VALUE_CHARS = 60
HEADLINES = 3  # as many as the insights report's page leads with
RECOMMENDATIONS = 3


@dataclass(frozen=True)
class DatasetOutcome:
    """One dataset's validation in the run: rows in = valid + quarantined + exact duplicates."""

    dataset: str
    rows_in: int
    valid: int
    quarantined: int
    duplicates: int
    score: float | None


@dataclass(frozen=True)
class CheckResult:
    """One asset check's result in the run."""

    name: str
    asset: str
    severity: str  # ERROR or WARN
    passed: bool
    description: str | None = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunFacts:
    """What a finished run did: its status, each asset's materialization metadata (plain values,
    by asset name), its check results and its failed steps with their errors."""

    job: str
    run_id: str
    status: str  # SUCCESS, FAILURE or CANCELED
    seconds: float
    materialized: Mapping[str, Mapping[str, Any]]
    checks: Sequence[CheckResult] = ()
    failed_steps: Sequence[tuple[str, str]] = ()


def duration(seconds: float) -> str:
    """``42 s`` or ``3 min 05 s``."""
    s = round(seconds)
    return f"{s} s" if s < 60 else f"{s // 60} min {s % 60:02d} s"


def dataset_outcomes(materialized: Mapping[str, Mapping[str, Any]]) -> list[DatasetOutcome]:
    """Each ``validated_<dataset>`` materialized in the run, by dataset name."""
    out = []
    for asset, meta in sorted(materialized.items()):
        if not asset.startswith("validated_") or "rows_in" not in meta:
            continue
        score = meta.get("quality_score")
        out.append(
            DatasetOutcome(
                dataset=asset.removeprefix("validated_"),
                rows_in=int(meta["rows_in"]),
                valid=int(meta.get("rows_valid", meta.get("rows_out", 0))),
                quarantined=int(meta.get("rows_quarantined", 0)),
                duplicates=int(meta.get("exact_duplicates_removed", 0)),
                score=None if score is None else float(score),
            )
        )
    return out


def _short(value: Any) -> str | None:
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else str(value)
    return text if len(text) <= MAX_VALUE_CHARS else None


def check_reason(check: CheckResult) -> str:
    """Why a check warned or failed: its result's description, then its short metadata."""
    parts = [check.description.rstrip(".")] if check.description else []
    shown = [(k, _short(v)) for k, v in check.metadata.items()]
    parts += [f"{k} {v}" for k, v in shown if v is not None][:4]
    return "; ".join(parts) or "no reason recorded"


def load_json(path: str | Path | None) -> Any:
    """A JSON file's content, or None where there is no such file or it does not parse."""
    if not path:
        return None
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def headline_insights(payload: Any, top: int = HEADLINES) -> list[str]:
    """The insights with the largest EUR impact (none last), as the insights report leads."""
    insights = payload.get("insights") if isinstance(payload, dict) else None
    if not isinstance(insights, list):
        return []
    usable = [i for i in insights if isinstance(i, dict) and i.get("statement")]
    ranked = sorted(
        usable, key=lambda i: (i.get("impact_eur") is None, -(i.get("impact_eur") or 0))
    )
    return [str(i["statement"]) for i in ranked[:top]]


def top_recommendations(payload: Any, top: int = RECOMMENDATIONS) -> list[str]:
    """The first ``top`` recommendations by rank: the action and its expected effect."""
    recs = payload.get("recommendations") if isinstance(payload, dict) else None
    if not isinstance(recs, list):
        return []
    usable = [r for r in recs if isinstance(r, dict) and r.get("action")]
    ranked = sorted(usable, key=lambda r: r.get("rank") or len(usable) + 1)
    return [
        f"{r['action']} ({r['expected_effect']})" if r.get("expected_effect") else str(r["action"])
        for r in ranked[:top]
    ]


def file_link(path: str | Path | None) -> str | None:
    """A ``file://`` link to ``path`` where it exists, else None."""
    if not path:
        return None
    p = Path(path).absolute()
    return p.as_uri() if p.exists() else None


def output_paths(materialized: Mapping[str, Mapping[str, Any]]) -> dict[str, str]:
    """The reports' pages and the exports folder, as the run's materializations name them."""
    found = {
        "quality report": materialized.get("quality_report", {}).get("path"),
        "insights report": materialized.get("insights_report", {}).get("path"),
        "pipeline report": materialized.get("pipeline_report", {}).get("path"),
        "exports": materialized.get("exports", {}).get("folder"),
    }
    return {label: str(path) for label, path in found.items() if path}


def _table(outcomes: list[DatasetOutcome]) -> list[str]:
    width = max(len("dataset"), *(len(o.dataset) for o in outcomes))
    head = f"  {'dataset':<{width}}  {'rows in':>9}  {'valid':>9}  {'quarantined':>11}"
    lines = [head + f"  {'duplicates':>10}  {'score':>5}"]
    for o in outcomes:
        score = "-" if o.score is None else f"{o.score:.1f}"
        lines.append(
            f"  {o.dataset:<{width}}  {o.rows_in:>9,}  {o.valid:>9,}  {o.quarantined:>11,}"
            f"  {o.duplicates:>10,}  {score:>5}"
        )
    return lines


def _checks(checks: Sequence[CheckResult]) -> list[str]:
    bad = [c for c in checks if not c.passed]
    failed = sum(c.severity == "ERROR" for c in bad)
    lines = [
        f"Checks: {len(checks)} evaluated, {len(checks) - len(bad)} passed, "
        f"{len(bad) - failed} warned, {failed} failed" + (":" if bad else ".")
    ]
    for c in sorted(bad, key=lambda c: (c.severity != "ERROR", c.asset, c.name)):
        label = "FAILED" if c.severity == "ERROR" else "WARN"
        lines.append(f"  {label:<6} {c.name} on {c.asset}: {check_reason(c)}")
    return lines


def summary_lines(
    facts: RunFacts,
    insights: Any = None,
    *,
    paths: Mapping[str, str | Path] | None = None,
    ui_hint: str | None = None,
) -> list[str]:
    """The closing summary. ``insights``: the insights report's JSON (``insights`` and
    ``recommendations`` lists); ``paths``: more outputs by label (the warehouse, quarantined
    files), shown where they exist. Reports and exports get ``file://`` links."""
    verdict = {"SUCCESS": "succeeded", "FAILURE": "FAILED", "CANCELED": "was canceled"}
    lines = [
        f"{facts.job} {verdict.get(facts.status, facts.status)} in {duration(facts.seconds)} "
        f"(run {facts.run_id}).",
    ]
    for step, error in facts.failed_steps:
        lines.append(f"  step {step} failed: {error}")
    outcomes = dataset_outcomes(facts.materialized)
    if outcomes:
        lines += ["", "Data quality (rows in = valid + quarantined + exact duplicates removed):"]
        lines += _table(outcomes)
        if any(o.quarantined for o in outcomes):
            lines.append(
                "  Quarantined rows, with the rules each broke, are in the warehouse views "
                "validation.quarantined_<dataset>."
            )
    if facts.checks:
        lines += ["", *_checks(facts.checks)]
    headlines = headline_insights(insights)
    if headlines:
        lines += ["", "Headline insights:"]
        lines += [f"  {i}. {s}" for i, s in enumerate(headlines, 1)]
    recs = top_recommendations(insights)
    if recs:
        lines += ["", "Top recommendations:"]
        lines += [f"  {i}. {s}" for i, s in enumerate(recs, 1)]
    shown = [
        (label, link)
        for label, path in output_paths(facts.materialized).items()
        if (link := file_link(path))
    ]
    shown += [
        (label, str(Path(path).absolute()))
        for label, path in (paths or {}).items()
        if Path(path).exists()
    ]
    if shown:
        width = max(len(label) for label, _ in shown)
        lines += ["", "Open:"]
        lines += [f"  {label:<{width}}  {where}" for label, where in shown]
    if ui_hint:
        lines += ["", ui_hint]
    return lines


_REFUSAL = re.compile(r"DagsterInvalidConfigError: (.*)")


def refusal_reason(output: str) -> str | None:
    """The reason a run's config was refused at launch, from ``dagster job launch`` output:
    the invalid-config error's message and its indented detail lines, without the tracebacks.
    None when the output holds no such error."""
    lines = output.splitlines()
    starts = [i for i, line in enumerate(lines) if _REFUSAL.search(line)]
    if not starts:
        return None
    first = starts[0]
    found = _REFUSAL.search(lines[first])
    reason = [found.group(1).strip()] if found else []
    for line in lines[first + 1 :]:
        if not line.strip() or line.startswith(("Stack Trace:", "Traceback", "  File ")):
            break
        reason.append(line.rstrip())
    return "\n".join(reason)
