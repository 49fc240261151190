"""The insights report's sections. Each says what it measures and how, then shows the
statements, chart and table of one category; a section's chart and table are drawn from one
frame, read from the same lake table the statements were computed from."""

from __future__ import annotations

from datetime import date

import polars as pl

from assets.reports import charts
from assets.reports import formatting as fmt
from assets.reports import html as h
from assets.reports.anomaly_tables import (
    anomalous_customers,
    anomalous_days,
    anomalous_product_weeks,
    anomaly_counts,
)
from assets.reports.insights import FORECAST_LEVEL, FORECAST_WINDOW_DAYS
from assets.reports.pricing import PRICING_RULE, pricing_table

# Days of actual revenue drawn before the forecast.
HISTORY_DAYS = 180
# Rows of each anomaly kind listed (the counts cover every row).
ANOMALY_ROWS = 10
BANDS = {"high": charts.RED, "medium": charts.ORANGE, "low": charts.BLUE}


def statements(insights: pl.DataFrame, category: str) -> str:
    """The statements of one category as an HTML list."""
    return h.bullets(insights.filter(pl.col("category") == category)["statement"].to_list())


def risk_bands(scores: pl.DataFrame) -> pl.DataFrame:
    """Current customers per churn risk band, with the band's probability range."""
    order = pl.col("risk_band").replace_strict(
        {b: i for i, b in enumerate(BANDS)}, default=len(BANDS), return_dtype=pl.Int64
    )
    return (
        scores.group_by("risk_band")
        .agg(
            pl.len().alias("customers"),
            pl.col("churn_probability").min().alias("lowest"),
            pl.col("churn_probability").max().alias("highest"),
        )
        .with_columns((pl.col("customers") / pl.col("customers").sum()).alias("share"))
        .sort(order)
        .select("risk_band", "customers", "share", "lowest", "highest")
    )


def churn_section(insights: pl.DataFrame, scores: pl.DataFrame) -> str:
    cutoff = fmt.day(scores["cutoff_date"].max())
    bands = risk_bands(scores)
    groups = {
        f"{band} risk ({fmt.count(n)} customers)": scores.filter(pl.col("risk_band") == band)[
            "churn_probability"
        ].to_list()
        for band, n in bands.select("risk_band", "customers").iter_rows()
    }
    chart = charts.histogram(
        groups,
        [BANDS.get(b, charts.GREY) for b in bands["risk_band"]],
        title=f"Churn probability of the {fmt.count(scores.height)} current customers "
        f"(as of {cutoff})",
        xlabel="churn probability (model score, 0 = stays, 1 = leaves)",
        ylabel="customers",
        bins=[i / 20 for i in range(21)],
    )
    return (
        h.method(
            "Churn probability is the churn model's score for each current customer "
            f"(analytics.churn_scores, features as of {cutoff}); each customer's risk band is "
            "the model's band for that score. The driver statements compare churn rates on the "
            "labelled holdout (customers whose outcome is known)."
        )
        + statements(insights, "churn")
        + h.chart(chart, "churn-risk")
        + h.table(
            bands,
            "risk-bands",
            labels={
                "risk_band": "risk band",
                "share": "share of customers",
                "lowest": "lowest probability",
                "highest": "highest probability",
            },
            formats={"share": fmt.pct},
        )
    )


def forecast_section(
    insights: pl.DataFrame, daily: pl.DataFrame, forecast: pl.DataFrame, generated: date
) -> str:
    """The last ``HISTORY_DAYS`` of revenue, then the forecast with its interval; the window
    the statement sums is shaded and dated."""
    shown = daily.sort("date").tail(HISTORY_DAYS)
    ahead = forecast.sort("date")
    window = ahead.head(FORECAST_WINDOW_DAYS)
    first, last = window["date"].min(), window["date"].max()
    end = fmt.day(shown["date"].max())
    chart = charts.time_series(
        shown["date"].to_list() + ahead["date"].to_list(),
        {
            "actual revenue": shown["revenue"].to_list() + [None] * ahead.height,
            "forecast": [None] * shown.height + ahead["forecast"].to_list(),
        },
        title=f"Daily revenue {fmt.days(shown['date'].min(), shown['date'].max())} "
        f"and the forecast to {fmt.day(ahead['date'].max())}",
        ylabel="revenue per day (EUR)",
        band=(
            ahead["date"].to_list(),
            ahead[f"lower_{FORECAST_LEVEL}"].to_list(),
            ahead[f"upper_{FORECAST_LEVEL}"].to_list(),
            f"{FORECAST_LEVEL}% prediction interval of each day",
        ),
        span=(first, last, f"the {FORECAST_WINDOW_DAYS} days the text sums"),
    )
    return (
        h.method(
            "The forecast (analytics.revenue_forecast) models log daily revenue as a trend plus "
            "weekday and month effects, fitted on enrichment.daily_revenue with outlying days "
            f"left out. It starts the day after the data ends ({end}), not on the day this page "
            f"was generated ({fmt.day(generated)}). The shaded band is each day's "
            f"{FORECAST_LEVEL}% prediction interval; the statement sums the forecast over its "
            f"first {FORECAST_WINDOW_DAYS} days, {fmt.days(first, last)}. The backtest MAPE is "
            "the mean absolute percentage error of the model refitted without its latest days "
            "and scored on them."
        )
        + statements(insights, "revenue")
        + h.chart(chart, "revenue-forecast")
    )


def pricing_section(insights: pl.DataFrame, elasticity: pl.DataFrame) -> str:
    table = pricing_table(elasticity.filter(pl.col("category").is_not_null())).sort("category")
    chart = charts.bars(
        table["category"].to_list(),
        table["elasticity"].to_list(),
        title="Price elasticity of demand by category, with its 95% confidence interval",
        xlabel="product category",
        ylabel="elasticity (% units per 1% price)",
        errors=(
            (table["elasticity"] - table["ci_low"]).to_list(),
            (table["ci_high"] - table["elasticity"]).to_list(),
        ),
        colors=[charts.BLUE if c == "high" else charts.GREY for c in table["confidence"]],
        legend={charts.BLUE: "high confidence", charts.GREY: "low confidence"},
        lines=[
            (-1.0, "-1: revenue does not change with price", "--"),
            (0.0, "0: demand does not respond to price", ":"),
        ],
        value_format=lambda v: fmt.number(v, 1),
    )
    return (
        h.method(
            "Elasticity is the % change in units sold for a 1% price change, per category, from "
            "weekly product sales (log-log regression with product and week effects; "
            "analytics.price_elasticity). The best price change is the one within +-20% that "
            "maximises revenue at the estimate. " + PRICING_RULE
        )
        + statements(insights, "pricing")
        + h.chart(chart, "elasticity")
        + h.table(
            table.select(
                "category",
                "elasticity",
                "ci_low",
                "ci_high",
                "best_price_change",
                "expected_revenue_change",
                "revenue_change_at_ci_low",
                "revenue_change_at_ci_high",
                "confidence",
            ),
            "pricing",
            labels={
                "ci_low": "95% CI low",
                "ci_high": "95% CI high",
                "best_price_change": "price change",
                "expected_revenue_change": "revenue change",
                "revenue_change_at_ci_low": "revenue change at CI low",
                "revenue_change_at_ci_high": "revenue change at CI high",
            },
            formats={
                "best_price_change": lambda v: fmt.signed_pct(v, 0),
                "expected_revenue_change": fmt.signed_pct,
                "revenue_change_at_ci_low": fmt.signed_pct,
                "revenue_change_at_ci_high": fmt.signed_pct,
            },
        )
    )


def segment_table(segments: pl.LazyFrame, profiles: pl.LazyFrame) -> pl.DataFrame:
    """Current customers (those with a profile) per segment, largest first, with their share of
    customers and of value and their typical traits."""
    return (
        segments.join(profiles.select("customer_id"), on="customer_id", how="semi")
        .group_by("segment_description")
        .agg(
            pl.len().alias("customers"),
            pl.col("total_value").sum().alias("value"),
            pl.col("total_value").mean().alias("mean_value"),
            pl.col("order_count").median().alias("median_orders"),
            pl.col("recency_days").median().alias("median_days_since_active"),
            pl.col("feature_usage_count").median().alias("median_feature_uses"),
        )
        .with_columns(
            (pl.col("customers") / pl.col("customers").sum()).alias("share_of_customers"),
            (pl.col("value") / pl.col("value").sum()).alias("share_of_value"),
        )
        .sort("customers", descending=True)
        .select(
            "segment_description",
            "customers",
            "share_of_customers",
            "share_of_value",
            "mean_value",
            "median_orders",
            "median_days_since_active",
            "median_feature_uses",
        )
        .collect()
    )


def segments_section(insights: pl.DataFrame, table: pl.DataFrame, as_of: str) -> str:
    chart = charts.bars(
        table["segment_description"].to_list(),
        table["customers"].to_list(),
        title=f"Current customers per segment (profiles as of {as_of})",
        xlabel="customers",
        ylabel="segment",
        horizontal=True,
    )
    return (
        h.method(
            "Segments come from KMeans on five log-scaled traits (days since last activity, "
            "orders, value, feature uses, distinct features used), the number of segments "
            "chosen by silhouette score (analytics.customer_segments). A segment is named by "
            "its traits more than half a standard deviation from the average customer, or, "
            "when it has none, by its largest deviations, marked 'slightly'. Counts and shares "
            "cover current customers (those with a profile); the table gives each segment's "
            "typical values."
        )
        + statements(insights, "segments")
        + h.chart(chart, "segments")
        + h.table(
            table,
            "segments",
            labels={
                "segment_description": "segment",
                "share_of_customers": "share of customers",
                "share_of_value": "share of value",
                "mean_value": "mean value per customer",
                "median_orders": "median orders",
                "median_days_since_active": "median days since last activity",
                "median_feature_uses": "median feature uses",
            },
            formats={
                "share_of_customers": fmt.pct,
                "share_of_value": fmt.pct,
                "mean_value": fmt.eur,
                "median_orders": lambda v: fmt.number(v, 1),
                "median_days_since_active": lambda v: fmt.number(v, 1),
                "median_feature_uses": lambda v: fmt.number(v, 1),
            },
        )
    )


def anomalies_section(
    insights: pl.DataFrame, anomalies: pl.DataFrame, daily: pl.DataFrame, profiles: int
) -> str:
    """Counts of every kind, the days on the revenue chart, and the strongest of each kind."""
    counts = anomaly_counts(anomalies)
    days = anomalous_days(anomalies)
    products = anomalous_product_weeks(anomalies)
    customers = anomalous_customers(anomalies)
    history = daily.sort("date")
    span = fmt.days(history["date"].min(), history["date"].max())
    chart = charts.time_series(
        history["date"].to_list(),
        {"revenue": history["revenue"].to_list()},
        title=f"Daily revenue {span}, anomalous days marked",
        ylabel="revenue per day (EUR)",
        marks=(
            days["date"].to_list(),
            days["revenue"].to_list(),
            f"anomalous day ({fmt.count(counts['day'])})",
        ),
    )
    weakest_day = float(days["score"].min()) if days.height else None  # type: ignore[arg-type]
    share = counts["customer"] / profiles if profiles else None
    note = (
        f"{fmt.counted(counts['day'], 'day', 'days')}, "
        f"{fmt.counted(counts['product'], 'product-week', 'product-weeks')} and "
        f"{fmt.counted(counts['customer'], 'customer', 'customers')} were flagged "
        "(analytics.anomalies). "
        f"Days: the day's revenue against the seasonal model of the forecast, as a robust "
        f"z-score (the weakest flagged day has |z| {fmt.number(weakest_day, 1)}). "
        "Product-weeks: a product's weekly revenue against its own median week, as a robust "
        "z-score. Customers: an IsolationForest on their profiles flags the most isolated "
        f"({fmt.pct(share)} of {fmt.count(profiles)} profiled customers); its score runs from 0 "
        "to 1, higher is more unusual, and the drivers are the traits furthest from the median."
    )
    shown = f"The {ANOMALY_ROWS} strongest of each kind are listed."
    return (
        h.method(note + " " + shown)
        + statements(insights, "anomalies")
        + h.chart(chart, "anomalies")
        + "<h3>Anomalous days</h3>"
        + h.table(
            days.head(ANOMALY_ROWS).select(
                "date",
                pl.col("date").dt.strftime("%A").alias("weekday"),
                "revenue",
                "expected_revenue",
                "z",
                pl.when(pl.col("z") > 0)
                .then(pl.lit("spike"))
                .otherwise(pl.lit("dip"))
                .alias("kind"),
            ),
            "anomalous-days",
            labels={"expected_revenue": "expected revenue", "z": "robust z"},
            formats={
                "revenue": fmt.eur,
                "expected_revenue": fmt.eur,
                "z": lambda v: fmt.number(v, 1),
            },
        )
        + "<h3>Anomalous product-weeks</h3>"
        + h.table(
            products.head(ANOMALY_ROWS),
            "anomalous-products",
            labels={
                "product_id": "product",
                "week": "week starting",
                "revenue": "weekly revenue",
                "z": "robust z",
            },
            formats={"revenue": fmt.eur, "z": lambda v: fmt.number(v, 1)},
        )
        + "<h3>Anomalous customers</h3>"
        + h.table(
            customers.head(ANOMALY_ROWS),
            "anomalous-customers",
            labels={"customer_id": "customer", "score": "anomaly score (0-1)"},
            formats={"score": lambda v: fmt.number(v, 3)},
        )
    )
