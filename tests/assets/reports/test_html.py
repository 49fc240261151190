"""The page helpers mask e-mail addresses and phone numbers in whatever text they print."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from assets.reports import html as h

EMAIL, PHONE = "zelda.quixotewright@privacy-probe.example", "+33 6 47 58 69 12"


def test_every_helper_that_prints_text_masks_personal_data():
    text = f"write to {EMAIL} or call {PHONE}"
    page = h.page(
        "Report",
        datetime(2026, 1, 2, tzinfo=UTC),
        [
            ("Table", h.table(pl.DataFrame({"file": [f"{EMAIL}.csv"], "reason": [text]}), "t")),
            ("Text", h.method(text) + h.paragraph(text) + h.bullets([text, "plain"])),
        ],
        data_note=text,
        summary=h.esc(text),
    )
    assert EMAIL not in page and "47 58 69" not in page
    assert page.count("z***@privacy-probe.example") == 7
    assert page.count("+33 ** ** ** 12") == 6
    assert "<li>plain</li>" in page
