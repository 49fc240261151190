"""Insights, recommendations and HTML reports from a real in-process run of the whole pipeline."""

import json

import duckdb
import psycopg
import pytest
from psycopg import sql

from assets.reports.postgres_export import POSTGRES_TABLES


@pytest.mark.e2e
@pytest.mark.postgres
def test_postgres_exports_match_the_warehouse(run, pg_url):
    result, settings, pg_schema = run.result, run.settings, run.pg_schema
    assert result.success
    mats = {
        m.asset_key.to_user_string(): m.materialization.metadata
        for m in result.get_asset_materialization_events()
    }
    published = mats["postgres_exports"]["rows_by_table"].value
    assert len(published) == len(POSTGRES_TABLES)
    with (
        duckdb.connect(str(settings.warehouse_path), read_only=True) as con,
        psycopg.connect(pg_url) as pg,
    ):
        for table, (group, key) in POSTGRES_TABLES.items():
            lake = con.execute(f"SELECT count(*) FROM {group}.{table}").fetchone()[0]  # noqa: S608 - fixed names
            target = sql.Identifier(pg_schema, table)
            in_pg = pg.execute(sql.SQL("SELECT count(*) FROM {}").format(target)).fetchone()[0]
            assert in_pg == lake == published[f"{pg_schema}.{table}"] > 0, table
            if key:
                pk = pg.execute(
                    "SELECT count(*) FROM pg_indexes WHERE schemaname = %s AND tablename = %s "
                    "AND indexdef LIKE 'CREATE UNIQUE INDEX%%'",
                    [pg_schema, table],
                ).fetchone()[0]
                assert pk == 1, f"{table} has its key as primary key"
        revenue = pg.execute(
            sql.SQL("SELECT round(sum(unit_price * quantity)::numeric, 2) FROM {}").format(
                sql.Identifier(pg_schema, "validated_orders")
            )
        ).fetchone()[0]
        lake_revenue = con.execute(
            "SELECT round(sum(unit_price * quantity), 2) FROM validation.validated_orders"
        ).fetchone()[0]
    assert float(revenue) == pytest.approx(float(lake_revenue))


def _insights(settings):
    return json.loads((settings.reports_dir / "insights_report.json").read_text())["insights"]


@pytest.mark.e2e
def test_insights_name_the_churn_driver_with_its_effect_size(run):
    result, settings = run.result, run.settings
    assert result.success
    by_id = {i["insight_id"]: i for i in _insights(settings)}
    plan = by_id["churn-plan"]
    evidence = json.loads(plan["evidence"])
    worst = max(evidence["by_plan"], key=lambda r: r["rate"])
    # The planted driver: free plans churn most, enterprise least.
    assert worst["plan_type"] == "free"
    ratio = worst["rate"] / evidence["base_rate"]
    assert ratio > 1.2
    assert plan["statement"].startswith(f"Free customers churn at {ratio:.1f}x the base rate")
    assert {"churn", "revenue", "pricing", "segments", "anomalies", "data quality"} <= {
        i["category"] for i in _insights(settings)
    }


@pytest.mark.e2e
def test_three_numbers_recomputed_independently_in_sql(run):
    settings = run.settings
    by_id = {i["insight_id"]: json.loads(i["evidence"]) for i in _insights(settings)}
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        base = con.execute(
            "SELECT avg(churned::INT) FROM features.churn_features WHERE snapshot = 'holdout'"
        ).fetchone()[0]
        last30 = con.execute(
            "SELECT sum(revenue) FROM (SELECT revenue FROM enrichment.daily_revenue ORDER BY date "
            "DESC LIMIT 30)"
        ).fetchone()[0]
        loss = con.execute(
            "SELECT count(*), sum(f.daily_value_rate * 365 * s.churn_probability) FROM "
            "analytics.churn_scores s "
            "JOIN features.churn_features_current f USING (customer_id) WHERE s.risk_band = 'high'"
        ).fetchone()
    assert by_id["churn-plan"]["base_rate"] == pytest.approx(base, abs=1e-4)
    assert by_id["revenue-forecast"]["last_30_days"] == pytest.approx(last30, rel=1e-6)
    risk = by_id["churn-revenue-at-risk"]
    assert risk["high_risk_customers"] == loss[0]
    assert risk["expected_annual_loss_eur"] == pytest.approx(loss[1], rel=1e-4)


@pytest.mark.e2e
def test_recommendations_are_ranked_by_priority(run):
    settings = run.settings
    recs = json.loads((settings.reports_dir / "insights_report.json").read_text())[
        "recommendations"
    ]
    priorities = [r["priority"] for r in recs]
    assert priorities == sorted(priorities, reverse=True) and [r["rank"] for r in recs] == list(
        range(1, len(recs) + 1)
    )
    assert any(r["category"] == "data quality" for r in recs)  # quarantined rows become actions
    assert all(r["owner"] and r["target"] and r["expected_effect"] for r in recs)


@pytest.mark.e2e
def test_exports_read_back_with_matching_row_counts(run):
    import polars as pl

    settings = run.settings
    folder = settings.reports_dir / "exports"
    with duckdb.connect(str(settings.warehouse_path), read_only=True) as con:
        for table, query in (
            ("insights", "SELECT count(*) FROM reports.insights"),
            ("churn_scores", "SELECT count(*) FROM analytics.churn_scores"),
            ("revenue_forecast", "SELECT count(*) FROM analytics.revenue_forecast"),
            ("anomalies", "SELECT count(*) FROM analytics.anomalies"),
        ):
            expected = con.execute(query).fetchone()[0]
            assert pl.read_csv(folder / f"{table}.csv").height == expected
            assert pl.read_json(folder / f"{table}.json").height == expected
            assert pl.read_parquet(folder / f"{table}.parquet").height == expected
            assert (folder / f"{table}.xml").read_text().count("<record>") == expected
