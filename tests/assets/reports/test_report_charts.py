"""Every chart of the three reports is readable at the page's width, in headless Chromium.

Playwright drives Debian's Chromium (/usr/bin/chromium) as the UI tests do. For each chart,
``chart_layout.js`` measures every text the browser drew (tick labels, axis labels, titles,
legend entries) and reports text cut off at the chart's edge, text under 7 px, texts
overlapping each other or the legend, and a legend over the plotting area. A full-page
screenshot of each report is kept in the test's temp folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.servers import BROWSER_ARGS, chromium_path

LAYOUT_JS = (Path(__file__).with_name("chart_layout.js")).read_text()
# The pages' content column is 1100 px; a reader's window a little wider.
WINDOW = {"width": 1200, "height": 900}
# Coloured pixels each page must show at least (text and rules are grey); the quality report's
# chart is a point per dataset until validation has run more than once.
MIN_INK = {"insights_report": 5_000, "quality_report": 300, "pipeline_report": 2_000}
CHARTS = {
    "insights_report": ["churn-risk", "revenue-forecast", "elasticity", "segments", "anomalies"],
    "quality_report": ["quality-trend"],
    "pipeline_report": ["stage-time", "step-timeline"],
}


def chart_layouts(page_path: Path, shot: Path) -> list[dict]:
    """Each chart's measured layout on ``page_path``; a full-page screenshot to ``shot``."""
    from playwright.sync_api import sync_playwright

    browser_path = chromium_path()
    if browser_path is None:
        pytest.skip("Chromium not installed: apt-get install chromium (.ci/run installs it)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=browser_path, headless=True, args=BROWSER_ARGS)
        try:
            page = browser.new_page(viewport=WINDOW)
            page.goto(page_path.resolve().as_uri(), wait_until="load")
            layouts = page.evaluate(LAYOUT_JS)
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    return layouts


@pytest.mark.e2e
@pytest.mark.parametrize("report", list(CHARTS))
def test_every_chart_is_readable_at_the_report_width(run, tmp_path, report):
    assert run.result.success
    shot = tmp_path / f"{report}.png"
    layouts = chart_layouts(run.settings.reports_dir / f"{report}.html", shot)
    assert [c["name"] for c in layouts] == CHARTS[report]
    for chart in layouts:
        assert chart["problems"] == [], (report, chart["name"], str(shot))
        # Drawn at its own size: the browser did not shrink its text to fit.
        assert chart["scale"] == pytest.approx(1.0, abs=0.01), (chart["name"], chart["scale"])
        assert chart["width"] <= WINDOW["width"] - 100
        assert len(chart["texts"]) >= 8, chart  # a title, two axis labels and ticks at least
    # Coloured ink: the charts were drawn, not just linked.
    pixels = np.asarray(Image.open(shot).convert("RGB"), dtype=np.int16)
    ink = int(((pixels.max(axis=2) - pixels.min(axis=2)) > 60).sum())
    assert ink > MIN_INK[report], (ink, str(shot))


@pytest.mark.e2e
def test_the_layout_check_sees_overlapping_and_cut_off_labels(tmp_path):
    """The measurement itself: a chart with rotated labels crowding each other and a legend on
    the plot, as the segments chart and the forecast chart were drawn, is caught."""
    import matplotlib

    matplotlib.use("Agg")
    import io

    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 3.4))
    names = [
        "average on every trait",
        "high purchase frequency, high value, high product usage",
        "low feature breadth, low product usage, low value",
    ]
    ax.bar(names, [760, 735, 485], label="customers")
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend(loc="upper right")
    ax.set_title("Customers per segment, a title pushed past the edge", x=1.4)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg")
    plt.close(fig)
    svg = buffer.getvalue()
    page = tmp_path / "bad.html"
    page.write_text(
        '<html><body style="max-width:1100px"><div data-chart="bad">'
        + svg[svg.index("<svg") :]
        + "</div></body></html>"
    )
    (chart,) = chart_layouts(page, tmp_path / "bad.png")
    problems = chart["problems"]
    assert any(p.startswith("overlap: high purchase frequency") for p in problems), problems
    assert any(p.startswith("cut off: Customers per segment") for p in problems), problems
    assert "legend over the plot" in problems
