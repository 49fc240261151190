"""Pricing insights: each category's elasticity, the best price change within +-20%, the
revenue change it brings at the estimate and at both ends of the 95% interval, and a confidence
by one stated rule (``PRICING_RULE``)."""

from __future__ import annotations

import polars as pl

from assets.reports import formatting as fmt
from assets.reports.insights import Insight

UNIT_ELASTICITY = -1.0
PRICING_RULE = (
    "Confidence is high when the whole 95% confidence interval of the elasticity lies on one "
    "side of -1: then the recommended price change moves revenue the same way for every "
    "elasticity in the interval. It is low when the interval contains -1, as the revenue "
    "change could then go either way. An interval that contains 0 (demand may not respond to "
    "price at all) does not lower the confidence by itself: with an elasticity above -1 a "
    "price rise brings more revenue whether demand falls a little or not at all."
)


def pricing_confidence(ci_low: pl.Expr, ci_high: pl.Expr) -> pl.Expr:
    """``PRICING_RULE`` as an expression: "high" or "low"."""
    one_side = (ci_high < UNIT_ELASTICITY) | (ci_low > UNIT_ELASTICITY)
    return pl.when(one_side).then(pl.lit("high")).otherwise(pl.lit("low"))


def revenue_change(price_change: pl.Expr, elasticity: pl.Expr) -> pl.Expr:
    """Revenue change of a price change at an elasticity: revenue ~ p^(1+e)."""
    return (1 + price_change).pow(1 + elasticity) - 1


def pricing_table(by_category: pl.DataFrame) -> pl.DataFrame:
    """Per category: the estimates, the revenue change of the best price change at both ends
    of the interval, and the confidence by ``PRICING_RULE``."""
    change = pl.col("best_price_change")
    return by_category.with_columns(
        revenue_change(change, pl.col("ci_low")).alias("revenue_change_at_ci_low"),
        revenue_change(change, pl.col("ci_high")).alias("revenue_change_at_ci_high"),
        pricing_confidence(pl.col("ci_low"), pl.col("ci_high")).alias("confidence"),
    )


def pricing_insights(by_category: pl.DataFrame, category_revenue: pl.DataFrame) -> list[Insight]:
    out = []
    # A null category holds orders of products that exist but failed validation: there is no
    # category to re-price, so no insight (the quality report already counts those rows).
    rows = pricing_table(by_category.join(category_revenue, on="category", how="left")).filter(
        (pl.col("best_price_change") != 0) & pl.col("category").is_not_null()
    )
    for r in rows.iter_rows(named=True):
        impact = float((r["annual_revenue"] or 0) * r["expected_revenue_change"])
        direction = "Lowering" if r["best_price_change"] < 0 else "Raising"
        ends = sorted((r["revenue_change_at_ci_low"], r["revenue_change_at_ci_high"]))
        out.append(
            Insight(
                f"pricing-{r['category']}",
                "pricing",
                f"{r['category'].capitalize()} demand has elasticity "
                f"{fmt.number(r['elasticity'])} (95% CI {fmt.number(r['ci_low'])} to "
                f"{fmt.number(r['ci_high'])}); {direction.lower()} prices by "
                f"{fmt.pct(abs(r['best_price_change']), 0)} would change its revenue by "
                f"{fmt.signed_pct(r['expected_revenue_change'])} (about {fmt.eur(impact)} a "
                f"year; {fmt.signed_pct(ends[0])} to {fmt.signed_pct(ends[1])} across the "
                f"interval, {r['confidence']} confidence).",
                {
                    **{
                        k: r[k]
                        for k in (
                            "elasticity",
                            "ci_low",
                            "ci_high",
                            "best_price_change",
                            "expected_revenue_change",
                            "revenue_change_at_ci_low",
                            "revenue_change_at_ci_high",
                            "annual_revenue",
                        )
                    },
                    "confidence_rule": PRICING_RULE,
                    "query": (
                        "price_elasticity where level = 'category'; revenue by category from "
                        "enriched_orders"
                    ),
                },
                "analytics.price_elasticity",
                r["confidence"],
                impact_eur=impact,
                recommendation={
                    "action": (
                        f"{direction} {r['category']} prices by "
                        f"{fmt.pct(abs(r['best_price_change']), 0)}"
                    ),
                    "target": f"category {r['category']}",
                    "expected_effect": f"{fmt.signed_pct(r['expected_revenue_change'])} revenue",
                    "owner": "pricing",
                },
            )
        )
    return out
