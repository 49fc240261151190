"""The one way the reports print numbers, and charts that refuse to be drawn unlabelled."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import matplotlib.pyplot as plt
import pytest

from assets.reports import charts
from assets.reports import formatting as fmt


def test_money_shares_counts_and_rates_read_as_people_write_them():
    assert fmt.eur(49336.0) == "EUR 49,336"
    assert fmt.eur(-1234.4) == "EUR -1,234"
    assert fmt.signed_eur(-1234.4) == "-EUR 1,234"
    assert fmt.pct(0.2274) == "22.7%" and fmt.signed_pct(-0.2274) == "-22.7%"
    assert fmt.signed_pct(0.05, 0) == "+5%"
    assert fmt.count(20040) == "20,040" and fmt.counted(1, "day", "days") == "1 day"
    assert fmt.rate(121_437.2) == "121,000 rows/s"
    assert fmt.rate(1646.4) == "1,650 rows/s" and fmt.rate(16.34) == "16.3 rows/s"
    assert fmt.seconds(0.1234) == "0.12 s" and fmt.seconds(1234.56) == "1,234.6 s"
    assert fmt.number(-1.307) == "-1.31"


def test_missing_and_non_finite_values_print_as_not_available():
    for formatter in (fmt.eur, fmt.pct, fmt.count, fmt.rate, fmt.seconds, fmt.number):
        assert formatter(None) == fmt.MISSING
        assert formatter(float("nan")) == fmt.MISSING


def test_days_and_moments_are_iso_and_utc():
    assert fmt.days(date(2026, 1, 1), datetime(2026, 1, 30, 12)) == "2026-01-01 to 2026-01-30"
    plus_two = timezone(timedelta(hours=2))
    assert fmt.moment(datetime(2026, 12, 7, 1, 6, 54, tzinfo=plus_two)) == (
        "2026-12-06 23:06:54 UTC"
    )
    assert fmt.moment(datetime(2026, 12, 6, 23, 6, 54, tzinfo=UTC)) == "2026-12-06 23:06:54 UTC"
    with pytest.raises(TypeError):
        fmt.day("2026-01-01")


def test_table_cells_never_print_scientific_notation():
    assert fmt.cell(121_437.25) == "121,437.25"
    assert fmt.cell(True) == "yes" and fmt.cell(None) == fmt.MISSING


def test_a_chart_without_axis_labels_is_refused():
    fig, ax = plt.subplots()
    ax.plot([1, 2], [3, 4])
    ax.set_xlabel("x (units)")
    with pytest.raises(charts.UnlabelledChartError):
        charts.svg(fig)


def test_charts_are_drawn_at_the_pages_width():
    svg = charts.bars(["a"], [1.0], title="t", xlabel="x", ylabel="y")
    assert svg.startswith('<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="720pt"')
