"""The final tables as files: CSV, JSON, XML and Parquet of each, under reports/exports/."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from assets.core.privacy import mask_frame
from assets.core.writers import write_lazy
from assets.reports.report import Scan


@dataclass(frozen=True)
class Export:
    """An exported table: its lake group, and whether it is shareable, that is for people.

    The rule: an export is shareable when people open it themselves: it is read in a spreadsheet
    or an editor, mailed, attached to a ticket, outside the lake's access control. Its text is
    masked (``assets.core.privacy``: e-mail addresses and phone numbers). An export only a
    system loads, which needs the real values to act on them, is not shareable and keeps them,
    as the lake does; each export says which it is, so a new one has to decide.
    """

    group: str
    shareable: bool


# Every export here is a report's table, written for people to open: all are shareable. (The
# PostgreSQL tables of postgres_exports are the system interface, behind the database's grants.)
EXPORT_TABLES = {
    "insights": Export("reports", shareable=True),
    "recommendations": Export("reports", shareable=True),
    "churn_scores": Export("analytics", shareable=True),
    "customer_segments": Export("analytics", shareable=True),
    "revenue_forecast": Export("analytics", shareable=True),
    "price_elasticity": Export("analytics", shareable=True),
    "anomalies": Export("analytics", shareable=True),
}
EXPORT_FORMATS = ("csv", "json", "xml", "parquet")


def write_exports(scan: Scan, folder: Path) -> dict[str, int]:
    """Write every export table in every format (each file atomically, a shareable one masked);
    rows per table.

    Streamed, or written a batch at a time: XML and JSON of 2.5M churn scores built whole took
    the reports stage to 3.3 GB at `xl`. The masks are expressions in the same lazy query.
    """
    counts = {}
    for table, export in EXPORT_TABLES.items():
        frame = mask_frame(scan(table)) if export.shareable else scan(table)
        for fmt in EXPORT_FORMATS:
            counts[table] = write_lazy(frame, folder / f"{table}.{fmt}", fmt)
    return counts
