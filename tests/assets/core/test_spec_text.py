"""How the data's own numbers are written where people read them."""

import pytest

from assets.core.spec import DatasetSpec
from assets.core.spec_text import column_rules, number_text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (1935, "1935"),
        (-9999, "-9999"),
        (10_000, "10,000"),
        (2.5, "2.5"),
        (1_234_567.0, "1,234,567"),
    ],
)
def test_a_year_reads_as_a_year_and_large_numbers_keep_their_separators(value, text):
    assert number_text(value) == text


def test_a_rule_over_years_names_them_as_written():
    spec = DatasetSpec.model_validate(
        {"name": "g", "columns": [{"name": "year", "type": "integer", "min": 1935, "max": 1954}]}
    )
    assert "between 1935 and 1954" in column_rules(spec.columns[0])


def test_a_decimal_comma_is_named_among_the_column_rules():
    spec = DatasetSpec.model_validate(
        {"name": "g", "columns": [{"name": "x", "type": "float", "decimal_comma": True}]}
    )
    assert column_rules(spec.columns[0]) == ["read with a decimal comma (1.234,5)"]
