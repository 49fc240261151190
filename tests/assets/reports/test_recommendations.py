"""Insights as rows, and recommendations ranked by impact score x confidence weight."""

from __future__ import annotations

import json

import pytest

from assets.reports.insights import Insight
from assets.reports.recommendations import headlines, insights_frame, recommendations


def _rec(owner: str, **extra) -> dict:
    return {"action": "act", "target": "t", "expected_effect": "e", "owner": owner, **extra}


ITEMS = [
    Insight("a", "pricing", "A", {"x": 1}, "s", "low", impact_eur=1000.0, recommendation=_rec("p")),
    Insight("b", "churn", "B", {}, "s", "high", impact_eur=500.0, recommendation=_rec("c")),
    Insight(
        "q",
        "data quality",
        "Q",
        {},
        "s",
        "high",
        recommendation=_rec("d", share_of_quarantine=0.9),
    ),
    Insight("n", "segments", "N", {}, "s", "medium"),  # no action called for
]


def test_priority_is_impact_share_times_confidence_weight_ranked():
    recs = recommendations(ITEMS)
    assert recs["insight_id"].to_list() == ["q", "b", "a"]
    assert recs["rank"].to_list() == [1, 2, 3]
    # q: its quarantine share 0.9 x 1.0; b: 500/1000 x 1.0; a: 1000/1000 x 0.3.
    assert recs["priority"].to_list() == pytest.approx([0.9, 0.5, 0.3])


def test_insight_rows_carry_their_evidence_as_json():
    frame = insights_frame(ITEMS)
    assert frame.height == 4 and "recommendation" not in frame.columns
    assert json.loads(frame.row(0, named=True)["evidence"]) == {"x": 1}


def test_headlines_list_the_largest_impacts_first():
    assert headlines(ITEMS, top=2) == "- **pricing**: A\n- **churn**: B"
