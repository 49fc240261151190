"""ReportsResource writes each page whole, in the reports folder or a subfolder of it."""

from __future__ import annotations

from pathlib import Path

from resources import ReportsResource


def test_a_page_in_a_subfolder_replaces_the_old_one_and_leaves_no_temporary_file(tmp_path: Path):
    reports = ReportsResource(root=str(tmp_path / "reports"))
    first = reports.write("dictionary/orders.html", "<p>old</p>")
    second = reports.write("dictionary/orders.html", "<p>new</p>")
    assert first == second == tmp_path / "reports" / "dictionary" / "orders.html"
    assert second.read_text() == "<p>new</p>"
    assert oct(second.stat().st_mode & 0o777) == "0o644"
    assert sorted(p.name for p in (tmp_path / "reports").rglob("*")) == [
        "dictionary",
        "orders.html",
    ]
