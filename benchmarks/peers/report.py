"""The peers benchmark's result as a markdown table."""

from __future__ import annotations

from typing import Any

LABELS = {
    "pipeline": "this project (`dagster asset materialize`)",
    "duckdb_sql": "hand-written DuckDB SQL",
    "pandera_polars": "pandera on Polars",
    "soda_duckdb": "Soda Core (DuckDB)",
    "gx_pandas": "Great Expectations on pandas",
    "duckdb_floor": "DuckDB CSV to Parquet (floor, no rules)",
}
ENV_OF = {
    "pipeline": "pipeline",
    "duckdb_sql": "duckdb",
    "pandera_polars": "pandera",
    "soda_duckdb": "soda",
    "gx_pandas": "gx",
    "duckdb_floor": "duckdb",
}


def _agrees(name: str, r: dict[str, Any]) -> str:
    if name == "pipeline":
        return "(reference)"
    if name == "duckdb_floor":
        return "n/a (no rules)"
    a = r["agreement"]
    parts = []
    if "valid_rows_agree" in a:
        same = a["valid_rows_agree"] and a["quarantined_rows_agree"]
        parts.append("split: " + ("same" if same else "differs"))
    if "quarantined_rows_identical" in a:
        if a["quarantined_rows_identical"]:
            parts.append("rows and their rules: identical")
        elif a["quarantined_keys_identical"]:
            parts.append("rows: identical, their rules differ")
        else:
            parts.append("rows: differ")
    differ = a["rule_counts_differ"]
    shown = ", ".join(f"{rule} {ours} vs {theirs}" for rule, (ours, theirs) in differ.items())
    parts.append("per rule: " + (f"differ ({shown})" if differ else "same"))
    return "; ".join(parts)


def markdown(report: dict[str, Any]) -> str:
    """One row per tool: time, CPU, memory, throughput, the split and its agreement."""
    lines = [
        f"`{report['scale']}`: {report['orders_rows']:,} orders rows "
        f"({report['customers_orders'][0]:,} customers), {report['machine']['cpus']} cores, "
        f"{report['generated_at'][:10]}",
        "",
        "| tool | wall s | CPU s | peak RSS MB | orders rows/s | row-level | valid | quarantined "
        "| agrees with the pipeline |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        out = r["output"]
        valid = f"{out['valid_rows']:,}" if "valid_rows" in out else "-"
        bad = f"{out['quarantined_rows']:,}" if "quarantined_rows" in out else "-"
        lines.append(
            f"| {LABELS[name]} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {r['peak_rss_mb']:,.0f} "
            f"| {r['orders_rows_per_s']:,.0f} | {'yes' if r['row_level'] else 'no'} | {valid} "
            f"| {bad} | {_agrees(name, r)} |"
        )
    lines += ["", "Versions: " + "; ".join(_versions(report["versions"])), ""]
    return "\n".join(lines)


def _versions(versions: dict[str, dict[str, str]]) -> list[str]:
    return [
        f"{env}: " + ", ".join(f"{k} {v}" for k, v in pkgs.items())
        for env, pkgs in versions.items()
    ]
