"""The data dictionary's HTML: a page per dataset and an index, self-contained like the other
reports (``html.py``'s style), each chart a small inline SVG drawn from the very table whose
numbers sit beside it. A personal column is marked and shows counts only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import polars as pl

from assets.core.privacy import mask_text
from assets.core.spec_text import COLUMN_RULE_SEVERITY, table_rules
from assets.reports import formatting as fmt
from assets.reports import html as h
from assets.reports.dictionary import Dictionary

FOLDER = "dictionary"
# The charts' colours (charts.py), written out: these small charts need no matplotlib.
BLUE, GREY, RED = "#2680c2", "#9aa5b1", "#ba2525"
SPARK_W, SPARK_H, SHARE_W, SHARE_H = 120, 34, 90, 12
PII_BADGE = '<span class="pii" title="personal data: values never shown">PII</span>'
CSS = (
    ".pii{background:#ba2525;color:#fff;border-radius:3px;padding:0 .3rem;font-size:.75rem;"
    "margin-left:.3rem}details{font-size:.82rem}td svg{display:block;margin:.2rem 0}"
    "td.col{white-space:nowrap;font-weight:600}td.type{white-space:nowrap}"
    "td.rules{min-width:9rem;overflow-wrap:normal}td.num.wrap{white-space:normal;min-width:6rem}"
)


def page_name(dataset: str) -> str:
    """A dataset's page, relative to the reports folder."""
    return f"{FOLDER}/{dataset}.html"


def share_bar(share: float | None, colour: str = RED, mark: float | None = None) -> str:
    """A bar as wide as ``share`` of its frame, titled with the same share; ``mark`` draws a
    tick at that share (a threshold)."""
    if share is None:
        return ""
    width = round(SHARE_W * min(max(share, 0.0), 1.0), 1)
    text = h.esc(fmt.pct(share, 2))
    tick = ""
    if mark is not None:
        x = round(SHARE_W * mark, 1)
        tick = f'<line x1="{x}" y1="0" x2="{x}" y2="{SHARE_H}" stroke="#1f2933" stroke-width="2"/>'
    return (
        f'<svg width="{SHARE_W}" height="{SHARE_H}" viewBox="0 0 {SHARE_W} {SHARE_H}" '
        f'role="img" aria-label="{text}"><title>{text}</title>'
        f'<rect width="{SHARE_W}" height="{SHARE_H}" fill="#e4e7eb"/>'
        f'<rect width="{width}" height="{SHARE_H}" fill="{colour}"/>{tick}</svg>'
    )


def spark(distribution: pl.DataFrame, unit: str) -> str:
    """One bar per row of ``distribution`` (value, rows), heights relative to the largest,
    each titled with its value and rows."""
    if distribution.is_empty():
        return ""
    top = max(int(distribution["rows"].max()), 1)  # type: ignore[arg-type]
    n = distribution.height
    step = SPARK_W / n
    bars = []
    for i, (value, rows) in enumerate(distribution.iter_rows()):
        height = round((SPARK_H - 2) * rows / top, 1)
        tip = h.esc(f"{mask_text(value)}: {fmt.counted(rows, unit.removesuffix('s'), unit)}")
        bars.append(
            f'<rect x="{i * step + 1:.1f}" y="{SPARK_H - height:.1f}" width="{step - 2:.1f}" '
            f'height="{height}" fill="{BLUE}"><title>{tip}</title></rect>'
        )
    return (
        f'<svg width="{SPARK_W}" height="{SPARK_H}" viewBox="0 0 {SPARK_W} {SPARK_H}" '
        f'role="img" aria-label="distribution"><line x1="0" y1="{SPARK_H - 0.5}" '
        f'x2="{SPARK_W}" y2="{SPARK_H - 0.5}" stroke="{GREY}"/>{"".join(bars)}</svg>'
    )


def _distribution_cell(
    column: dict[str, Any], distribution: pl.DataFrame | None, binned: bool
) -> str:
    if column["pii"]:
        return '<span class="muted">personal data: values not shown</span>'
    if distribution is None or distribution.is_empty():
        return '<span class="muted">no values</span>'
    shown = distribution.height
    if not binned and column["distinct"] == column["present_rows"] and column["distinct"] > shown:
        return '<span class="muted">every value distinct</span>'
    listed = "\n".join(
        f"{mask_text(v)}: {fmt.counted(r, 'row', 'rows')}" for v, r in distribution.iter_rows()
    )
    label = (
        "equal-width bins"
        if binned
        else f"all {shown} values"
        if column["distinct"] == shown
        else f"top {shown} values"
    )
    return (
        spark(distribution, "rows")
        + f"<details><summary>{label}</summary>"
        + f'<div data-list="{h.esc(column["column"])}">{h.esc(listed)}</div></details>'
    )


def column_table(d: Dictionary) -> str:
    """A row per column: spec (type, description, rules) and data (nulls, distinct, range,
    distribution)."""
    heads = [
        "column",
        "type",
        "description",
        "rules",
        "null share",
        "distinct values",
        "minimum",
        "maximum",
        "distribution",
    ]
    rows = []
    for c in d.columns.iter_rows(named=True):
        column = c["column"]
        name = h.esc(c["column"]) + (PII_BADGE if c["pii"] else "")
        if not c["present"]:
            nulls = '<span class="muted">not in the validated table</span>'
        else:
            null_rows = fmt.counted(c["nulls"], "row", "rows")
            share = fmt.pct(c["null_share"], 2)
            nulls = share_bar(c["null_share"]) + h.esc(f"{share} ({null_rows})")
        cells = [
            f'<td class="col">{name}</td>',
            f'<td class="type">{h.esc(c["type"])}</td>',
            f"<td>{h.esc(c['description'] or '')}</td>",
            f'<td class="rules">{h.esc(chr(10).join(c["rules"]))}</td>',
            f"<td>{nulls}</td>",
            f'<td class="num">{h.esc(fmt.count(c["distinct"]))}</td>',
            f'<td class="num wrap">{h.esc(c["min"])}</td>',
            f'<td class="num wrap">{h.esc(c["max"])}</td>',
            f"<td>{_distribution_cell(c, d.distributions.get(column), column in d.binned)}</td>",
        ]
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = "".join(f"<th>{x}</th>" for x in heads)
    return (
        f'<table data-table="columns"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def foreign_key_section(d: Dictionary) -> str:
    if d.foreign_keys.is_empty():
        return "<p>No foreign key is declared.</p>"
    rows = []
    for fk in d.foreign_keys.iter_rows(named=True):
        rows.append(
            f"<tr><td>{h.esc(fk['foreign_key'])}</td>"
            f"<td>{share_bar(fk['coverage'], BLUE, fk['threshold'])}"
            f"{h.esc(fmt.pct(fk['coverage'], 2))}</td>"
            f'<td class="num">{h.esc(fmt.pct(fk["threshold"], 2))}</td>'
            f"<td>{h.esc(fk['severity'])}</td><td>{h.esc(fk['check'])}</td></tr>"
        )
    head = "".join(
        f"<th>{x}</th>"
        for x in ("foreign key", "coverage (latest run)", "threshold", "severity", "check")
    )
    return (
        h.method(
            "Coverage: the share of the present values of the foreign-key columns that matched "
            "a row of the parent in the latest validation run (quality_history, "
            "referential:<columns>-><parent>), drawn as a bar with its threshold as a black "
            "tick. An error foreign key below its threshold blocks downstream assets, a warn one "
            "only warns."
        )
        + f'<table data-table="foreign-keys"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def freshness_lines(d: Dictionary, generated: datetime) -> list[str]:
    spec = d.spec
    lines = []
    if d.latest_row is not None:
        lines.append(f"Latest row: {d.latest_row[1]} (largest {d.latest_row[0]}).")
    else:
        lines.append("Latest row: no date or datetime column to read it from.")
    if d.validated_at is not None:
        age = (generated - d.validated_at).total_seconds() / 3600
        lines.append(
            f"Latest validation run: {fmt.moment(d.validated_at)} ({fmt.number(age, 1)} hours "
            f"before this page), run {d.run_id}: the latest materialization of "
            f"validated_{spec.name}."
        )
    f = spec.freshness
    limit = fmt.number(f.max_lag_hours, 1)
    if f.max_lag_hours is None:
        lines.append(
            "Freshness limit: none (freshness.max_lag_hours: null): data that is never stale, "
            "such as a reference table loaded once."
        )
    elif f.column:
        warn = (
            f"warns after {fmt.number(f.warn_after_hours, 1)} hours, "
            if f.warn_after_hours is not None
            else ""
        )
        lines.append(
            f"Freshness limit: the newest {f.column} may be {limit} hours old; the "
            f"{spec.name}_fresh check {warn}fails past that, on every ingestion run."
        )
    else:
        lines.append(
            f"Freshness limit: {limit} hours between materializations (the spec's "
            "freshness.max_lag_hours); no freshness.column, so the rows' own times are not "
            "judged."
        )
    return lines


def dataset_page(d: Dictionary, generated: datetime) -> str:
    spec = d.spec
    present = d.columns.filter(pl.col("present"))
    pii = d.columns.filter(pl.col("pii"))["column"].to_list()
    keys = table_rules(spec)
    sections = [
        (
            "Columns",
            h.method(
                f"Types, descriptions and rules from the spec; null shares, distinct values, "
                f"ranges and distributions measured over the same {fmt.count(d.rows)} "
                "validated rows. Distributions: equal-width bins between the minimum and maximum "
                "for numbers and dates, each holding the values above its lower edge up to and "
                "including its upper edge (the first also holds the minimum), the most frequent "
                "values otherwise (hover a bar, or "
                "open the list, for its rows). Column rules are of severity "
                f"{COLUMN_RULE_SEVERITY}: a row that breaks one is quarantined. Personal "
                "columns (PII) show counts only."
            )
            + column_table(d),
        ),
        (
            "Keys and rules across columns",
            h.bullets(keys) if keys else "<p>No key or rule across columns is declared.</p>",
        ),
        ("Foreign keys", foreign_key_section(d)),
        (
            "Row rules",
            h.table(d.rules, "rules", formats={"threshold": lambda v: fmt.pct(v, 2)})
            if d.rules.height
            else "<p>No row rule is declared.</p>",
        ),
        ("Freshness", h.bullets(freshness_lines(d, generated))),
    ]
    summary = h.esc(
        f"{spec.description or 'No description.'} Owner: {spec.owner}. "
        f"{fmt.count(d.rows)} validated rows, {present.height} of {d.columns.height} "
        f"columns present; personal columns: {', '.join(pii) or 'none'}."
    )
    back = (
        '<p><a href="index.html">All datasets</a> · '
        '<a href="../quality_report.html">Data quality report</a></p>'
    )
    return h.page(
        f"Data dictionary: {spec.name}",
        generated,
        sections,
        data_note=(
            f"Validated rows of the latest validation run "
            f"({fmt.moment(d.validated_at) if d.validated_at else 'none recorded'})."
        ),
        summary=summary + back,
    ).replace("</style>", CSS + "</style>", 1)


def index_page(dictionaries: Sequence[Dictionary], generated: datetime) -> str:
    """Every dataset with its description, size and latest run, linking to its page."""
    rows = []
    for d in dictionaries:
        spec = d.spec
        pii = int(d.columns["pii"].sum())
        rows.append(
            f'<tr><td class="col"><a href="{h.esc(spec.name)}.html">{h.esc(spec.name)}</a></td>'
            f"<td>{h.esc(spec.description)}</td><td>{h.esc(spec.owner)}</td>"
            f'<td class="num">{h.esc(fmt.count(d.rows))}</td>'
            f'<td class="num">{d.columns.height}</td><td class="num">{pii}</td>'
            f"<td>{h.esc(fmt.moment(d.validated_at) if d.validated_at else fmt.MISSING)}</td></tr>"
        )
    head = "".join(
        f"<th>{x}</th>"
        for x in (
            "dataset",
            "description",
            "owner",
            "validated rows",
            "columns",
            "personal columns",
            "latest validation run",
        )
    )
    table = (
        f'<table data-table="datasets"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return h.page(
        "Data dictionary",
        generated,
        [("Datasets", table)],
        data_note="Each dataset's spec and its latest validated rows.",
        summary=f'{len(dictionaries)} datasets. <a href="../quality_report.html">Data quality '
        "report</a>",
    ).replace("</style>", CSS + "</style>", 1)


def links_section(datasets: Sequence[str]) -> str:
    """Links from a page in the reports folder to the dictionary's pages."""
    links = " · ".join(f'<a href="{page_name(d)}">{h.esc(d)}</a>' for d in datasets)
    return (
        h.method("Each dataset's columns, types, rules, null shares and distributions.")
        + f'<p><a href="{FOLDER}/index.html">All datasets</a>: {links}</p>'
    )
