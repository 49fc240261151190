"""Self-contained HTML reports: inline SVG charts (matplotlib), inline CSS, no network needed."""

from __future__ import annotations

import html
import io
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt
import polars as pl

CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2rem auto;
max-width:1100px;color:#1f2933}
h1{font-size:1.7rem}h2{border-bottom:2px solid #e4e7eb;padding-bottom:.3rem;margin-top:2.2rem}
table{border-collapse:collapse;width:100%;font-size:.88rem;margin:.6rem 0}
th,td{border:1px solid #e4e7eb;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f5f7fa}.num{text-align:right;font-variant-numeric:tabular-nums}
.summary{background:#f0f4f8;border-left:4px solid #2680c2;padding:.8rem 1rem}
.chart{margin:1rem 0}.chart svg{max-width:100%;height:auto}.muted{color:#7b8794;font-size:.85rem}
.bad{color:#ba2525}.good{color:#207227}
"""


def svg(fig: Any) -> str:
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def line_chart(
    x: Sequence[Any],
    series: Mapping[str, Sequence[float | None]],
    title: str,
    band: tuple | None = None,
) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.4))
    if band is not None:
        bx, lo, hi, label = band
        ax.fill_between(bx, lo, hi, alpha=0.25, label=label)
    for name, values in series.items():
        # Gaps (None) become NaN, which matplotlib leaves as breaks in the line.
        clean = [float("nan") if v is None else float(v) for v in values]
        ax.plot(x, clean, label=name, linewidth=1.4, marker="o" if len(clean) < 40 else None)
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return svg(fig)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    errors: Sequence[Sequence[float]] | None = None,
) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.4))
    ax.bar(labels, values, yerr=errors, capsize=4, color="#2680c2")
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.tick_params(axis="x", labelrotation=20)
    return svg(fig)


def histogram(values: Sequence[float] | np.ndarray, title: str, bins: int = 30) -> str:
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.hist(values, bins=bins, color="#2680c2")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    return svg(fig)


def table(frame: pl.DataFrame, max_rows: int = 50) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
    rows = []
    for row in frame.head(max_rows).iter_rows():
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append(f'<td class="num">{v:,.4g}</td>')
            elif isinstance(v, int):
                cells.append(f'<td class="num">{v:,}</td>')
            else:
                cells.append(f"<td>{html.escape('' if v is None else str(v))}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    more = (
        f'<p class="muted">{frame.height - max_rows:,} more rows not shown.</p>'
        if frame.height > max_rows
        else ""
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>{more}"


def page(title: str, generated: date, sections: list[tuple[str, str]], summary: str = "") -> str:
    body = "".join(
        f"<section><h2>{html.escape(h)}</h2>{content}</section>" for h, content in sections
    )
    intro = f'<div class="summary">{summary}</div>' if summary else ""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>"
        f'<p class="muted">Generated {generated.isoformat()} by dq-pipeline.</p>'
        f"{intro}{body}</body></html>"
    )


def chart(svg_text: str, name: str) -> str:
    return f'<div class="chart" data-chart="{html.escape(name)}">{svg_text}</div>'
