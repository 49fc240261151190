"""Each row rule on small hand-built rows: what it flags and the reason it gives."""

from datetime import date, datetime

import polars as pl
import pytest

from assets.validation.names import names_where
from assets.validation.rules import REASONS, RULES
from tests.assets.validation.rows import flag, frame, rules_of


@pytest.mark.parametrize(
    ("change", "rule", "reason"),
    [
        (
            {"qty": None, "_ingest_errors": '{"qty": "N/A"}'},
            "type:qty",
            "qty is not a valid integer: 'N/A'",
        ),
        (
            {"born": None, "_ingest_errors": '{"born": "13.05.2014"}'},
            "type:born",
            "born is not a valid date: '13.05.2014' (it reads with format '%d.%m.%Y': declare "
            "it on the column)",
        ),
        (
            {"opened": None, "_ingest_errors": '{"opened": "5/13/14 10:30"}'},
            "type:opened",
            "opened is not a valid datetime: '5/13/14 10:30' (it reads with format "
            "'%d/%m/%y %H:%M' or '%m/%d/%y %H:%M': declare it on the column)",
        ),
        (
            {"born": None, "_ingest_errors": '{"born": "soon"}'},
            "type:born",
            "born is not a valid date: 'soon'",
        ),
        ({"qty": None}, "required:qty", "qty is required but missing"),
        ({"qty": 0}, "range:qty", "qty 0 is below the minimum 1"),
        ({"qty": 11}, "range:qty", "qty 11 is above the maximum 10"),
        ({"born": date(2030, 5, 1)}, "range:born", "born 2030-05-01 is above the maximum today"),
        ({"kind": "z"}, "allowed:kind", "kind 'z' is not one of a, b"),
        ({"email": "a.b at c.io"}, "pattern:email", "email 'a.b at c.io' does not look like email"),
        ({"parent_id": "P9"}, "fk:parent_id->parents", "parent_id 'P9' has no match in parents"),
        (
            {"closed": datetime(2024, 12, 31)},
            "rule:closed_after_opened",
            "closed_after_opened: closed",
        ),
        (
            {"price": 20.5},
            "rule:price_within_cap",
            "price_within_cap: price 20.5 is not <= parents.cap x 2 (20.0)",
        ),
    ],
)
def test_each_rule_flags_its_row_with_a_readable_reason(change, rule, reason):
    flagged = flag(frame({}, change))
    assert flagged[RULES].to_list() == [[], [rule]]
    assert flagged[REASONS][1][0].startswith(reason)
    if rule.startswith("type:"):
        assert flagged[REASONS][1][0] == reason


def test_nulls_pass_optional_and_cross_field_rules():
    assert (
        rules_of({"kind": None, "email": None, "closed": None, "parent_id": None, "price": None})
        == []
    )


def test_lookup_ignores_an_invalid_parent_value():
    # P3's cap is -1, itself invalid (min 0): the child is not blamed for it.
    assert rules_of({"parent_id": "P3", "price": 1000.0}) == []


@pytest.mark.parametrize("count", [0, 1, 3])
def test_names_where_lists_the_names_whose_condition_holds_in_order(count):
    frame = pl.DataFrame(
        {
            "a": [True, False, None, True, False],
            "b": [True, True, False, None, False],
            "c": [False, True, True, None, False],
        }
    )
    pairs = [(pl.col(c), f"x:{c}") for c in "abc"][:count]
    got = frame.with_columns(names_where(pairs).alias("n"))["n"].to_list()
    want = [[f"x:{c}" for c in "abc"[:count] if row[c]] for row in frame.iter_rows(named=True)]
    assert got == want
