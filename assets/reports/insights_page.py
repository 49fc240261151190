"""The insights report for business readers: the headline insights, a section per category
with its chart, then the ranked recommendations."""

from __future__ import annotations

from datetime import date

import polars as pl

from assets.reports import html as h
from assets.reports.report import Report, Scan

# Days of actual revenue drawn before the forecast.
HISTORY_DAYS = 180
RECOMMENDATION_COLUMNS = (
    "rank",
    "priority",
    "action",
    "target",
    "expected_effect",
    "owner",
    "confidence",
)


def statements(insights: pl.DataFrame, category: str, tag: str = "ul") -> str:
    """The statements of one category as an HTML list."""
    rows = insights.filter(pl.col("category") == category)
    return _html_list(rows["statement"].to_list(), tag)


def _html_list(items: list[str], tag: str) -> str:
    return f"<{tag}>" + "".join(f"<li>{h.html.escape(s)}</li>" for s in items) + f"</{tag}>"


def forecast_chart(daily: pl.DataFrame, forecast: pl.DataFrame) -> str:
    """The last ``HISTORY_DAYS`` of revenue, then the forecast with its 95% band."""
    return h.line_chart(
        daily["date"].to_list() + forecast["date"].to_list(),
        {
            "actual revenue": daily["revenue"].to_list() + [None] * forecast.height,
            "forecast": [None] * daily.height + forecast["forecast"].to_list(),
        },
        "Daily revenue: last 180 days and the 90-day forecast (95% interval shaded)",
        band=(
            forecast["date"].to_list(),
            forecast["lower_95"].to_list(),
            forecast["upper_95"].to_list(),
            "95% interval",
        ),
    )


def elasticity_chart(elasticity: pl.DataFrame) -> str:
    errors = [
        (elasticity["elasticity"] - elasticity["ci_low"]).to_list(),
        (elasticity["ci_high"] - elasticity["elasticity"]).to_list(),
    ]
    return h.bar_chart(
        elasticity["category"].to_list(),
        elasticity["elasticity"].to_list(),
        "Price elasticity by category (95% CI)",
        errors,
    )


def segment_sizes(segments: pl.LazyFrame) -> pl.DataFrame:
    """Customers per segment, largest first."""
    return segments.group_by("segment_description").len().sort("len", descending=True).collect()


def insights_report(scan: Scan, generated: date) -> Report:
    """The insights report's page and JSON twin; its figures are the headline insights and the
    insight and recommendation counts."""
    insights = scan("insights").collect()
    recs = scan("recommendations").collect()
    daily = scan("daily_revenue").collect().sort("date").tail(HISTORY_DAYS)
    probabilities = scan("churn_scores").select("churn_probability").collect()
    elasticity = scan("price_elasticity").filter(pl.col("level") == "category").collect()
    segments = segment_sizes(scan("customer_segments"))
    top = insights.sort("impact_eur", descending=True, nulls_last=True).head(3)
    churn_chart = h.histogram(
        probabilities.to_series().to_numpy(), "Churn probability of current customers"
    )
    segment_chart = h.bar_chart(
        segments["segment_description"].to_list(),
        segments["len"].to_list(),
        "Customers per segment",
    )
    sections = [
        ("Churn", statements(insights, "churn") + h.chart(churn_chart, "churn-risk")),
        (
            "Revenue forecast",
            statements(insights, "revenue")
            + h.chart(
                forecast_chart(daily, scan("revenue_forecast").collect()), "revenue-forecast"
            ),
        ),
        (
            "Pricing",
            statements(insights, "pricing") + h.chart(elasticity_chart(elasticity), "elasticity"),
        ),
        ("Segments", statements(insights, "segments") + h.chart(segment_chart, "segments")),
        (
            "Anomalies",
            statements(insights, "anomalies") + h.table(scan("anomalies").collect().head(20)),
        ),
        ("Data quality", statements(insights, "data quality")),
        ("Recommendations", h.table(recs.select(RECOMMENDATION_COLUMNS))),
    ]
    headline = top["statement"].to_list()
    page = h.page("Insights report", generated, sections, summary=_html_list(headline, "ol"))
    payload = {"insights": insights.to_dicts(), "recommendations": recs.to_dicts()}
    figures = {
        "headline_insights": "\n".join(f"- {s}" for s in headline),
        "insights": insights.height,
        "recommendations": recs.height,
    }
    return Report(page, payload, figures)
