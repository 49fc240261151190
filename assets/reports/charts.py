"""The reports' charts as inline SVG (matplotlib): every chart has a title and labelled axes
with units, legends sit outside the plotting area, and time runs on date axes.

Figures are drawn at one fixed width (``WIDTH_IN``, 960 px in a browser) that fits the page's
content width, so the browser never scales their text down; the layout engine (matplotlib's
constrained layout) keeps labels, legends and titles inside the figure without overlapping.
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from assets.reports import formatting as fmt

# matplotlib is imported by the first chart drawn, not with this module: it takes about a second
# to import, and every CLI call, run worker and code server loads the reports' definitions
# without drawing anything.
if TYPE_CHECKING:
    from matplotlib.figure import Figure

WIDTH_IN = 10.0  # 720 pt: 960 CSS px, inside the pages' 1100 px column
BLUE, ORANGE, GREY, RED, GREEN = "#2680c2", "#d9822b", "#9aa5b1", "#ba2525", "#3f9142"
PALETTE = [BLUE, ORANGE, GREEN, RED, "#7c5cbf", "#8d6e63", "#d65db1", GREY]
STYLE: dict[Any, Any] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "legend.fontsize": 9,
    "svg.hashsalt": "reports",
}


class UnlabelledChartError(ValueError):
    """A chart was drawn without a label on one of its axes."""


def _pyplot():  # the module matplotlib.pyplot, on the Agg backend
    import matplotlib

    matplotlib.use("Agg")  # no display on servers; must precede pyplot
    import matplotlib.pyplot as plt

    return plt


def _axis_format(formatter: fmt.Formatter) -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(fmt.axis(formatter))


def _figure(height: float, **kwargs: Any) -> tuple[Figure, Any]:
    plt = _pyplot()
    with plt.rc_context(STYLE):
        return plt.subplots(figsize=(WIDTH_IN, height), layout="constrained", **kwargs)


def _check_labels(fig: Figure) -> None:
    """Every axes is labelled, by itself or by the figure's shared labels."""
    shared_x = fig.get_supxlabel() if hasattr(fig, "get_supxlabel") else ""
    shared_y = fig.get_supylabel() if hasattr(fig, "get_supylabel") else ""
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        if not (ax.get_xlabel() or shared_x) or not (ax.get_ylabel() or shared_y):
            raise UnlabelledChartError(f"chart {fig.get_suptitle() or ax.get_title()!r}")


def svg(fig: Figure) -> str:
    """The figure as an ``<svg>`` element (no XML prologue), closed afterwards."""
    _check_labels(fig)
    buffer = io.StringIO()
    plt = _pyplot()
    with plt.rc_context(STYLE):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _legend(
    fig: Figure,
    ax: Any,
    patches: Mapping[str, str] | None = None,
    columns: int = 4,
    where: Any = "outside lower center",
) -> None:
    """The figure's legend below the plot, outside every axes, so it hides no data;
    ``patches`` adds a swatch per colour (colour to label)."""
    from matplotlib.patches import Patch

    handles, labels = ax.get_legend_handles_labels()
    for colour, label in (patches or {}).items():
        handles.append(Patch(facecolor=colour, label=label))
        labels.append(label)
    if handles:
        fig.legend(handles, labels, loc=where, ncols=min(columns, len(labels)))


def _date_axis(ax: Any, xlabel: str) -> None:
    import matplotlib.dates as mdates

    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))
    ax.set_xlabel(xlabel)


def time_series(
    dates: Sequence[date | datetime],
    series: Mapping[str, Sequence[float | None]],
    *,
    title: str,
    ylabel: str,
    xlabel: str = "date",
    band: tuple[Sequence[Any], Sequence[float], Sequence[float], str] | None = None,
    marks: tuple[Sequence[Any], Sequence[float], str] | None = None,
    span: tuple[Any, Any, str] | None = None,
    yformat: fmt.Formatter = fmt.thousands,
    height: float = 3.8,
) -> str:
    """Lines over dates (a None is a gap); ``band`` shades an interval, ``marks`` draws points
    (anomalies) and ``span`` shades a window of days, each with its legend label."""
    fig, ax = _figure(height)
    if span is not None:
        ax.axvspan(span[0], span[1], color=GREY, alpha=0.18, label=span[2], linewidth=0)
    if band is not None:
        ax.fill_between(band[0], band[1], band[2], color=ORANGE, alpha=0.22, label=band[3])
    for i, (name, values) in enumerate(series.items()):
        clean = [float("nan") if v is None else float(v) for v in values]
        ax.plot(dates, clean, label=name, linewidth=1.3, color=PALETTE[i % len(PALETTE)])
    if marks is not None:
        ax.scatter(marks[0], marks[1], s=28, color=RED, zorder=3, label=marks[2])
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.yaxis.set_major_formatter(_axis_format(yformat))
    _date_axis(ax, xlabel)
    ax.grid(alpha=0.3)
    _legend(fig, ax)
    return svg(fig)


def wrapped(labels: Sequence[str], width: int = 28) -> list[str]:
    """Long category names on several lines, so they fit beside a horizontal bar."""
    return ["\n".join(textwrap.wrap(str(label), width)) or str(label) for label in labels]


def bars(
    labels: Sequence[str],
    values: Sequence[float],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    horizontal: bool = False,
    errors: tuple[Sequence[float], Sequence[float]] | None = None,
    colors: Sequence[str] | None = None,
    legend: Mapping[str, str] | None = None,
    lines: Sequence[tuple[float, str, str]] = (),
    value_format: fmt.Formatter = fmt.thousands,
) -> str:
    """Bars with optional error whiskers; ``legend`` names the colours, ``lines`` draws
    reference values ``(value, label, style)`` across the bars. Horizontal bars carry long
    labels (wrapped), one bar per line, largest at the top in the order given."""
    n = max(len(labels), 1)
    if horizontal:
        names = wrapped(labels)
        lines_per_label = max((name.count("\n") + 1 for name in names), default=1)
        fig, ax = _figure(1.4 + n * 0.32 * lines_per_label)
        ax.barh(names, values, xerr=errors, capsize=4, color=colors or BLUE)
        ax.invert_yaxis()
        ax.xaxis.set_major_formatter(_axis_format(value_format))
        draw = ax.axvline
    else:
        fig, ax = _figure(3.8)
        ax.bar(list(labels), values, yerr=errors, capsize=4, color=colors or BLUE)
        ax.yaxis.set_major_formatter(_axis_format(value_format))
        draw = ax.axhline
    for value, label, style in lines:
        draw(value, color="#3e4c59", linestyle=style, linewidth=1, label=label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
    _legend(fig, ax, legend)
    return svg(fig)


def histogram(
    groups: Mapping[str, Sequence[float]],
    colours: Sequence[str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    bins: Sequence[float] | int = 20,
) -> str:
    """Stacked histograms of several groups on the same bins, one colour and legend label per
    group (e.g. customers by churn risk band)."""
    fig, ax = _figure(3.6)
    names = list(groups)
    ax.hist(
        [list(groups[g]) for g in names],
        bins=bins,  # type: ignore[arg-type]
        stacked=True,
        color=list(colours)[: len(names)],
        label=names,
    )
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    from matplotlib.ticker import MaxNLocator

    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(_axis_format(fmt.thousands))
    ax.grid(alpha=0.3)
    _legend(fig, ax)
    return svg(fig)


def panels(
    series: Mapping[str, tuple[Sequence[datetime], Sequence[float]]],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    ylim: tuple[float, float],
    xlim: tuple[datetime, datetime],
    date_format: str,
    reference: tuple[Mapping[str, float], str] | None = None,
    columns: int = 3,
) -> str:
    """One small panel per series on the same axes ranges, so no series hides another;
    ``reference`` draws each panel's own threshold (by series name) with one legend label.
    Each panel carries its own x label: with a figure-wide one, constrained layout put the
    legend below the figure over it."""
    import matplotlib.dates as mdates

    names = list(series)
    cols = max(1, min(columns, len(names)))
    rows = max(1, -(-len(names) // cols))
    fig, axes = _figure(1.2 + 2.3 * rows, nrows=rows, ncols=cols, squeeze=False, sharey=True)
    flat = axes.ravel()
    for ax, name in zip(flat, names, strict=False):
        x, y = series[name]
        ax.plot(x, y, marker="o", markersize=4, linewidth=1.2, color=BLUE, label="score per run")
        if reference is not None and name in reference[0]:
            ax.axhline(
                reference[0][name], color=RED, linestyle="--", linewidth=1, label=reference[1]
            )
        ax.set_title(name)
        ax.set_ylim(*ylim)
        ax.set_xlim(*xlim)  # type: ignore[arg-type]
        ax.xaxis.set_major_locator(mdates.AutoDateLocator(minticks=2, maxticks=4))
        ax.xaxis.set_major_formatter(mdates.DateFormatter(date_format))
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    for ax in flat[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.supylabel(ylabel)
    _legend(fig, flat[0])
    return svg(fig)


def timeline(
    names: Sequence[str],
    starts: Sequence[float],
    lengths: Sequence[float],
    groups: Sequence[str],
    *,
    title: str,
    xlabel: str,
    ylabel: str,
) -> str:
    """One bar per row from its start for its length (a Gantt chart), coloured by group."""
    order = list(dict.fromkeys(groups))
    colour = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(order)}
    fig, ax = _figure(1.6 + 0.24 * max(len(names), 1))
    ax.barh(names, lengths, left=starts, color=[colour[g] for g in groups], height=0.7)
    ax.invert_yaxis()
    ax.set_xlim(left=0)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_formatter(_axis_format(fmt.thousands))
    ax.grid(axis="x", alpha=0.3)
    _legend(fig, ax, {colour[g]: g for g in order}, columns=min(len(order), 7))
    return svg(fig)
