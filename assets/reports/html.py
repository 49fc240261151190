"""Self-contained HTML pages: inline CSS, inline SVG charts (``charts.py``), tables whose cells
are printed by ``formatting.py``; no network needed to read them. Every text and table cell
has its e-mail addresses and phone numbers masked (``assets.core.privacy``): a page is for
whoever it is mailed to."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import datetime

import polars as pl

from assets.core.privacy import mask_frame, mask_text, mask_texts
from assets.reports import formatting as fmt

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1f2933}
h1{font-size:1.7rem}h2{border-bottom:2px solid #e4e7eb;padding-bottom:.3rem;margin-top:2.2rem}
h3{font-size:1.05rem;margin-top:1.4rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
td{white-space:pre-line;overflow-wrap:anywhere}
th{background:#f5f7fa}.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.summary{background:#f0f4f8;border-left:4px solid #2680c2;padding:.8rem 1rem}
.method{color:#52606d;font-size:.9rem;border-left:3px solid #e4e7eb;padding-left:.7rem}
.chart{margin:1rem 0}.chart svg{max-width:100%;height:auto}.muted{color:#7b8794;font-size:.85rem}
"""


def esc(text: object) -> str:
    return html.escape(str(text))


def method(text: str) -> str:
    """What a section measures and how, above its figures (``text`` is escaped)."""
    return f'<p class="method">{esc(mask_text(text))}</p>'


def paragraph(text: str) -> str:
    return f"<p>{esc(mask_text(text))}</p>"


def bullets(items: Sequence[str], tag: str = "ul") -> str:
    return f"<{tag}>" + "".join(f"<li>{esc(s)}</li>" for s in mask_texts(items)) + f"</{tag}>"


def table(
    frame: pl.DataFrame,
    name: str,
    *,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, fmt.Formatter] | None = None,
    max_rows: int = 50,
) -> str:
    """``frame`` as a table named ``name`` (``data-table``): headers from ``labels`` (the
    column name otherwise), cells from ``formats`` (``formatting.cell`` otherwise); numbers are
    right-aligned."""
    labels, formats = labels or {}, formats or {}
    head = "".join(f"<th>{esc(labels.get(c, c))}</th>" for c in frame.columns)
    numeric = {c for c, t in frame.schema.items() if t.is_numeric()}
    rows = []
    for row in mask_frame(frame.head(max_rows)).iter_rows(named=True):
        cells = []
        for column, value in row.items():
            text = formats[column](value) if column in formats else fmt.cell(value)
            css = ' class="num"' if column in numeric else ""
            cells.append(f"<td{css}>{esc(text)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<p class="muted">{fmt.count(frame.height - max_rows)} more rows not shown.</p>'
        if frame.height > max_rows
        else ""
    )
    return (
        f'<table data-table="{esc(name)}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>{more}"
    )


def page(
    title: str,
    generated: datetime,
    sections: list[tuple[str, str]],
    *,
    data_note: str,
    summary: str = "",
) -> str:
    """The page: title, when it was generated and what data it covers (``data_note``), the
    summary box, then each ``(heading, html)`` section."""
    body = "".join(f"<section><h2>{esc(h)}</h2>{content}</section>" for h, content in sections)
    intro = f'<div class="summary">{mask_text(summary)}</div>' if summary else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{esc(title)}</h1>"
        f'<p class="muted">Generated {fmt.moment(generated)} by dq-pipeline. '
        f"{esc(mask_text(data_note))}</p>"
        f"{intro}{body}</body></html>"
    )


def chart(svg_text: str, name: str) -> str:
    return f'<div class="chart" data-chart="{esc(name)}">{svg_text}</div>'
