"""What every landing reader shares: the BadFile error and how source names become column names."""

from __future__ import annotations

import re


class BadFile(Exception):
    """An expected, explainable problem with one landing file; it gets quarantined."""


def normalize_name(name: str) -> str:
    """'Customer ID ' -> 'customer_id': headers from any source map onto spec column names."""
    cleaned = re.sub(r"[^0-9a-zA-Z]+", "_", name.strip().lstrip("\ufeff")).strip("_").lower()
    return cleaned or "column"
