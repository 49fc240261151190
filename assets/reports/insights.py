"""Insights and recommendations: statements computed from the analytics, never canned text.

Every insight carries its evidence (the figures, the asset they come from and how they were
computed), a confidence level and, where it makes sense, an impact estimate in EUR. The statement
is formatted from those same figures, so the text cannot drift from the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import polars as pl

from assets.reports import formatting as fmt
from assets.reports.anomaly_tables import anomalous_days, anomaly_counts


@dataclass
class Insight:
    insight_id: str
    category: str  # data quality | churn | revenue | pricing | segments | anomalies
    statement: str
    evidence: dict[str, Any]
    source: str
    confidence: str
    impact_eur: float | None = None
    recommendation: dict[str, Any] = field(default_factory=dict)


def _rate(frame: pl.DataFrame) -> float:
    """The churn rate of ``frame`` (0 for an empty frame)."""
    value = frame.select(pl.col("churned").cast(pl.Float64).mean()).item()
    return float(value) if value is not None else 0.0


def _confidence(n: int, strong: bool = True) -> str:
    if n >= 1000 and strong:
        return "high"
    return "medium" if n >= 200 else "low"


def churn_insights(
    holdout: pl.DataFrame,
    scores: pl.LazyFrame | pl.DataFrame,
    current: pl.LazyFrame | pl.DataFrame,
    model: dict,
) -> list[Insight]:
    """Driver effects as churn-rate ratios on the labelled holdout, plus revenue at risk.

    ``scores`` (churn_scores) and ``current`` (churn_features_current) are read lazily: only
    the high-risk customers are joined to their value, streamed through a hash table of those
    alone (joining all 2.5M customers' scores and values at `xl` took the step to 0.9 GB).
    """
    out: list[Insight] = []
    base = _rate(holdout)
    by_plan = holdout.group_by("plan_type").agg(
        pl.len().alias("n"), pl.col("churned").mean().alias("rate")
    )
    worst = by_plan.sort("rate", descending=True).row(0, named=True)
    best = by_plan.sort("rate").row(0, named=True)
    importances = {i["feature"]: i["auc_drop"] for i in model.get("importances", [])}
    out.append(
        Insight(
            "churn-plan",
            "churn",
            f"{worst['plan_type'].capitalize()} customers churn at {worst['rate'] / base:.1f}x "
            f"the base rate ({fmt.pct(worst['rate'])} vs {fmt.pct(base)}, "
            f"n={fmt.count(worst['n'])}); {best['plan_type']} customers at "
            f"{best['rate'] / base:.1f}x (n={fmt.count(best['n'])}).",
            {
                "base_rate": round(base, 4),
                "by_plan": by_plan.sort("plan_type").to_dicts(),
                "auc_contribution_plan": importances.get("plan_value_score"),
                "query": "churn rate by plan_type on churn_features where snapshot = 'holdout'",
            },
            "features.churn_features",
            _confidence(int(worst["n"])),
        )
    )
    for feature, label, driver in (
        ("support_intensity", "support tickets per month", "support"),
        ("feature_usage_rate", "product usage", "usage"),
    ):
        q = holdout.select(
            pl.col(feature).quantile(0.25).alias("lo"), pl.col(feature).quantile(0.75).alias("hi")
        ).row(0)
        top = holdout.filter(pl.col(feature) >= q[1])
        bottom = holdout.filter(pl.col(feature) <= q[0])
        high_rate, low_rate = (
            _rate(top),
            _rate(bottom),
        )
        if driver == "support":
            ratio = high_rate / max(low_rate, 1e-9)
            statement = (
                f"Customers in the top quarter of {label} (>= {fmt.number(q[1])}) churn at "
                f"{ratio:.1f}x the rate of the bottom quarter ({fmt.pct(high_rate)} vs "
                f"{fmt.pct(low_rate)}, n={fmt.count(top.height)} and {fmt.count(bottom.height)})."
            )
        else:
            ratio = low_rate / max(high_rate, 1e-9)
            statement = (
                f"Customers in the bottom quarter of {label} (<= {fmt.number(q[0], 3)} events a "
                f"day) churn at {ratio:.1f}x the rate of the top quarter ({fmt.pct(low_rate)} vs "
                f"{fmt.pct(high_rate)}, n={fmt.count(bottom.height)} and {fmt.count(top.height)})."
            )
        out.append(
            Insight(
                f"churn-{driver}",
                "churn",
                statement,
                {
                    "top_quartile_rate": round(high_rate, 4),
                    "bottom_quartile_rate": round(low_rate, 4),
                    "ratio": round(ratio, 3),
                    "quartiles": [q[0], q[1]],
                    "auc_contribution": importances.get(feature),
                    "query": f"churn rate by quartile of {feature} on churn_features (holdout)",
                },
                "features.churn_features",
                _confidence(min(top.height, bottom.height), strong=ratio > 1.2),
            )
        )
    high = scores.lazy().filter(pl.col("risk_band") == "high")
    at_risk = (
        current.lazy()
        .select("customer_id", "daily_value_rate")
        .join(high, on="customer_id", build_side="force_right")
        .collect(engine="streaming")
    )
    annual = float((at_risk["daily_value_rate"] * 365 * at_risk["churn_probability"]).sum())
    auc = float(model.get("metrics", {}).get("roc_auc", float("nan")))
    out.append(
        Insight(
            "churn-revenue-at-risk",
            "churn",
            f"{fmt.count(at_risk.height)} customers are at high churn risk; their expected lost "
            f"revenue is {fmt.eur(annual)} a year (model ROC AUC {fmt.number(auc)}).",
            {
                "high_risk_customers": at_risk.height,
                "expected_annual_loss_eur": round(annual, 2),
                "roc_auc": model.get("metrics", {}).get("roc_auc"),
                "query": (
                    "sum(daily_value_rate x 365 x churn_probability) over churn_scores where "
                    "risk_band = 'high'"
                ),
            },
            "analytics.churn_scores",
            "high" if model.get("metrics", {}).get("roc_auc", 0) >= 0.8 else "medium",
            impact_eur=annual,
            recommendation={
                "action": "Run a retention campaign for the high-risk list",
                "target": f"{fmt.count(at_risk.height)} high-risk customers "
                "(analytics.churn_scores)",
                "expected_effect": f"saving a fifth of them keeps {fmt.eur(annual / 5)} a year",
                "owner": "customer success",
            },
        )
    )
    return out


def _mape_confidence(mape: float | None) -> str:
    if mape is None:
        return "low"
    return "high" if mape < 0.15 else "medium" if mape < 0.3 else "low"


# The forecast's interval quoted in the text and shaded on the chart (revenue_forecast columns).
FORECAST_LEVEL = 95
FORECAST_WINDOW_DAYS = 30


def revenue_insights(
    daily: pl.DataFrame, forecast: pl.DataFrame, mape: float | None
) -> list[Insight]:
    """The forecast's first ``FORECAST_WINDOW_DAYS`` days against the last as many days of
    actual revenue, each window named by its dates. ``mape`` is the backtest revenue_forecast
    recorded (None where none was recorded: the confidence is then low)."""
    backtest = f"Backtest MAPE {fmt.pct(mape)}." if mape is not None else "No backtest recorded."
    n = FORECAST_WINDOW_DAYS
    last = daily.sort("date").tail(n)
    ahead = forecast.sort("date").head(n)
    last_total = float(last["revenue"].sum())
    total = float(ahead["forecast"].sum())
    lo = float(ahead[f"lower_{FORECAST_LEVEL}"].sum())
    hi = float(ahead[f"upper_{FORECAST_LEVEL}"].sum())
    change = total / last_total - 1 if last_total else 0.0
    window = fmt.days(ahead["date"].min(), ahead["date"].max())
    before = fmt.days(last["date"].min(), last["date"].max())
    return [
        Insight(
            "revenue-forecast",
            "revenue",
            f"Revenue for the {n} days {window} (the first {n} days after the data ends on "
            f"{fmt.day(last['date'].max())}) is forecast at {fmt.eur(total)}, "
            f"{fmt.pct(abs(change))} {'more' if change >= 0 else 'less'} than the last {n} days "
            f"of data ({before}: {fmt.eur(last_total)}). If every day landed at the low or "
            "the high end of its "
            f"{FORECAST_LEVEL}% interval, the {n} days would bring {fmt.eur(lo)} to "
            f"{fmt.eur(hi)}. " + backtest,
            {
                "window": [fmt.day(ahead["date"].min()), fmt.day(ahead["date"].max())],
                "last_window": [fmt.day(last["date"].min()), fmt.day(last["date"].max())],
                "next_30_days": round(total, 2),
                "last_30_days": round(last_total, 2),
                "change": round(change, 4),
                f"interval_{FORECAST_LEVEL}": [round(lo, 2), round(hi, 2)],
                "backtest_mape": round(mape, 4) if mape is not None else None,
                "query": (
                    f"sum(forecast), sum(lower_{FORECAST_LEVEL}), sum(upper_{FORECAST_LEVEL}) "
                    "over the first 30 days of revenue_forecast; sum(revenue) over the last 30 "
                    "days of daily_revenue"
                ),
            },
            "analytics.revenue_forecast",
            _mape_confidence(mape),
            impact_eur=abs(total - last_total),
            recommendation={
                "action": "Plan stock and staffing for the forecast range",
                "target": f"the {n} days {window}",
                "expected_effect": f"revenue {fmt.eur(lo)} to {fmt.eur(hi)} "
                f"({FORECAST_LEVEL}% daily intervals summed)",
                "owner": "finance",
            },
        )
    ]


def segment_insights(segments: pl.LazyFrame | pl.DataFrame) -> list[Insight]:
    """The segment that brings the most value; ``segments`` is aggregated as it streams."""
    stats = (
        segments.lazy()
        .group_by("segment_description")
        .agg(
            pl.len().alias("n"),
            pl.col("total_value").mean().alias("mean_value"),
            pl.col("total_value").sum().alias("value"),
        )
        .collect(engine="streaming")
        .sort("value", descending=True)
    )
    customers = int(stats["n"].sum())
    top = stats.row(0, named=True)
    share_n = top["n"] / customers
    share_v = top["value"] / max(float(stats["value"].sum()), 1e-9)
    return [
        Insight(
            "segments-top",
            "segments",
            f"The segment '{top['segment_description']}' is {fmt.pct(share_n)} of customers and "
            f"brings {fmt.pct(share_v)} of all value (mean {fmt.eur(top['mean_value'])} per "
            "customer).",
            {
                "segments": stats.to_dicts(),
                "query": "customer_segments grouped by segment_description",
            },
            "analytics.customer_segments",
            _confidence(customers),
        )
    ]


def anomaly_insights(anomalies: pl.DataFrame) -> list[Insight]:
    """The anomalous days, the strongest with its revenue against the expected, and how many
    product-weeks and customers were flagged besides."""
    days = anomalous_days(anomalies)
    if days.is_empty():
        return []
    worst = days.row(0, named=True)
    counts = anomaly_counts(anomalies)
    return [
        Insight(
            "anomalies-days",
            "anomalies",
            f"{fmt.counted(counts['day'], 'day', 'days')} had anomalous revenue; the strongest, "
            f"{fmt.day(worst['date'])}, brought {fmt.eur(worst['revenue'])} against "
            f"{fmt.eur(worst['expected_revenue'])} expected (robust z {fmt.number(worst['z'], 1)})"
            f". {fmt.counted(counts['product'], 'product-week', 'product-weeks')} and "
            f"{fmt.counted(counts['customer'], 'customer', 'customers')} were flagged too.",
            {
                "days": [fmt.day(d) for d in days["date"].to_list()],
                "strongest": {**worst, "date": fmt.day(worst["date"])},
                "counts": counts,
                "query": "anomalies grouped by entity_type; days ordered by score",
            },
            "analytics.anomalies",
            "high" if worst["score"] > 5 else "medium",
        )
    ]


def quality_insights(quality: pl.DataFrame) -> list[Insight]:
    """``quality``: per dataset, quality_score, rows_in, quarantined_rows and worst_rule."""
    out = []
    total_q = max(int(quality["quarantined_rows"].sum()), 1)
    for r in quality.sort("quality_score").iter_rows(named=True):
        if not r["quarantined_rows"]:
            continue
        out.append(
            Insight(
                f"quality-{r['dataset']}",
                "data quality",
                f"{r['dataset']}: {fmt.count(r['quarantined_rows'])} of {fmt.count(r['rows_in'])} "
                f"rows quarantined (quality score {fmt.number(r['quality_score'])} of 100); most "
                f"often for {r['worst_rule']}.",
                {
                    **r,
                    "query": (
                        "latest quality_history per dataset; rule counts from quarantined_<dataset>"
                    ),
                },
                "validation.quality_history",
                "high",
                recommendation={
                    "action": f"Fix {r['worst_rule']} at the source of {r['dataset']}",
                    "target": f"validation.quarantined_{r['dataset']}",
                    "expected_effect": f"{fmt.count(r['quarantined_rows'])} more rows usable",
                    "owner": "data engineering",
                    "share_of_quarantine": r["quarantined_rows"] / total_q,
                },
            )
        )
    return out
