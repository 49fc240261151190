"""The insights report for business readers: the headline insights, a section per category
(what it measures, the statements, a chart and a table), then the ranked recommendations."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from assets.reports import formatting as fmt
from assets.reports import html as h
from assets.reports.insights_sections import (
    anomalies_section,
    churn_section,
    forecast_section,
    pricing_section,
    segment_table,
    segments_section,
    statements,
)
from assets.reports.report import Report, Scan

RECOMMENDATION_COLUMNS = (
    "rank",
    "priority",
    "action",
    "target",
    "expected_effect",
    "owner",
    "confidence",
)


def recommendations_section(recs: pl.DataFrame) -> str:
    return h.method(
        "Each recommendation comes from one insight. Priority = impact score x confidence "
        "weight: the impact score is the insight's EUR impact relative to the largest one "
        "(data-quality items score by their share of all quarantined rows), and the weights "
        "are high 1.0, medium 0.6, low 0.3."
    ) + h.table(
        recs.select(RECOMMENDATION_COLUMNS),
        "recommendations",
        labels={"expected_effect": "expected effect"},
        formats={"priority": lambda v: fmt.number(v, 3)},
    )


def insights_report(scan: Scan, generated: datetime) -> Report:
    """The insights report's page and JSON twin; its figures are the headline insights and the
    insight and recommendation counts."""
    insights = scan("insights").collect()
    recs = scan("recommendations").collect()
    daily = scan("daily_revenue").select("date", "revenue").collect().sort("date")
    profiles = scan("customer_profiles").select("customer_id", "as_of_date")
    as_of = profiles.select(pl.col("as_of_date").max(), pl.len()).collect()
    segments = segment_table(scan("customer_segments"), profiles)
    top = insights.sort("impact_eur", descending=True, nulls_last=True).head(3)
    last_day = fmt.day(daily["date"].max())
    sections = [
        (
            "Churn",
            churn_section(
                insights,
                scan("churn_scores")
                .select("churn_probability", "risk_band", "cutoff_date")
                .collect(),
            ),
        ),
        (
            "Revenue forecast",
            forecast_section(insights, daily, scan("revenue_forecast").collect(), generated.date()),
        ),
        (
            "Pricing",
            pricing_section(
                insights, scan("price_elasticity").filter(pl.col("level") == "category").collect()
            ),
        ),
        ("Segments", segments_section(insights, segments, fmt.day(as_of.item(0, 0)))),
        (
            "Anomalies",
            anomalies_section(insights, scan("anomalies").collect(), daily, as_of.item(0, 1)),
        ),
        (
            "Data quality",
            h.method(
                "Rows each dataset's latest validation run quarantined, and the rule that "
                "quarantined the most of them; the quality report has the detail."
            )
            + statements(insights, "data quality"),
        ),
        ("Recommendations", recommendations_section(recs)),
    ]
    headline = top["statement"].to_list()
    page = h.page(
        "Insights report",
        generated,
        sections,
        data_note=f"Data through {last_day} (the last day of daily revenue).",
        summary=h.bullets(headline, "ol"),
    )
    payload = {"insights": insights.to_dicts(), "recommendations": recs.to_dicts()}
    figures = {
        "headline_insights": "\n".join(f"- {s}" for s in headline),
        "insights": insights.height,
        "recommendations": recs.height,
    }
    return Report(page, payload, figures)
