"""The insights as tables: one row per insight, and the ranked recommendations.

Recommendation priority = impact score x confidence weight, where the impact score is the
insight's EUR impact relative to the largest one (data-quality items score by their share of
quarantined rows) and the weights are high 1.0, medium 0.6, low 0.3.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import polars as pl

from assets.reports.insights import Insight

CONFIDENCE_WEIGHT = {"high": 1.0, "medium": 0.6, "low": 0.3}


def headlines(insights: list[Insight], top: int = 5) -> str:
    """The ``top`` insights by EUR impact as a markdown list."""
    ranked = sorted(insights, key=lambda i: -(i.impact_eur or 0))[:top]
    return "\n".join(f"- **{i.category}**: {i.statement}" for i in ranked)


def insights_frame(insights: list[Insight]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                **{k: v for k, v in asdict(i).items() if k not in ("evidence", "recommendation")},
                "evidence": json.dumps(i.evidence, default=str),
            }
            for i in insights
        ],
        schema={
            "insight_id": pl.String,
            "category": pl.String,
            "statement": pl.String,
            "source": pl.String,
            "confidence": pl.String,
            "impact_eur": pl.Float64,
            "evidence": pl.String,
        },
    )


def recommendations(insights: list[Insight]) -> pl.DataFrame:
    """Ranked action items from the insights that call for one."""
    actionable = [i for i in insights if i.recommendation]
    top_impact = max((i.impact_eur or 0.0 for i in actionable), default=0.0) or 1.0
    rows = []
    for i in actionable:
        if i.category == "data quality":
            impact_score = float(i.recommendation.get("share_of_quarantine", 0.0))
        else:
            impact_score = (i.impact_eur or 0.0) / top_impact
        rows.append(
            {
                "priority": round(impact_score * CONFIDENCE_WEIGHT[i.confidence], 4),
                "action": i.recommendation["action"],
                "target": i.recommendation["target"],
                "expected_effect": i.recommendation["expected_effect"],
                "owner": i.recommendation["owner"],
                "insight_id": i.insight_id,
                "category": i.category,
                "confidence": i.confidence,
                "impact_eur": i.impact_eur,
            }
        )
    frame = pl.DataFrame(
        rows,
        schema={
            "priority": pl.Float64,
            "action": pl.String,
            "target": pl.String,
            "expected_effect": pl.String,
            "owner": pl.String,
            "insight_id": pl.String,
            "category": pl.String,
            "confidence": pl.String,
            "impact_eur": pl.Float64,
        },
    )
    return frame.sort("priority", descending=True).with_row_index("rank", offset=1)
