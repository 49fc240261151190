"""The masks: declared personal columns, personal values quoted in other text, and e-mail
addresses and phone numbers found by pattern in any text."""

import hashlib
import hmac
from datetime import date, datetime

import polars as pl
import pytest

from assets.core.privacy import (
    DEV_HASH_KEY,
    HASH_KEY_ENV,
    hash_key,
    keyed_hash,
    mask_frame,
    mask_json,
    mask_text,
    mask_texts,
    pii_masks,
)
from assets.core.spec import DatasetSpec, load_catalog


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        (
            "write to zelda.quixotewright@privacy-probe.example today",
            "write to z***@privacy-probe.example today",
        ),
        ("+33 6 47 58 69 12", "+33 ** ** ** 12"),
        ("call +1 (555) 123-4567, ask for Bo", "call +1 ** ** ** 67, ask for Bo"),
        ("+44 20 7946 0958", "+44 ** ** ** 58"),
        ("+33647586912", "+** ** ** 12"),
        ("06 12 34 56 78", "** ** ** 78"),
        ("06.12.34.56.78", "** ** ** 78"),
        ("tel:0612345678,0698765432", "tel:** ** ** 78,** ** ** 32"),
        ("(555) 123-4567", "** ** ** 67"),
        ("555-123-4567", "** ** ** 67"),
    ],
)
def test_emails_and_phones_in_text_are_masked(text, masked):
    assert mask_text(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-05 06:12:34",
        "2024-01-05",
        "prices +12.5% for a gain of EUR 1,234,567",
        "0.123456789",
        '{"ci_low": -0.0123456789, "ci_high": 3.0612345678, "n": 12.0612345678}',
        "id_0612345678 and x0612345678",
        "+12345 rows",
        "order O00012345, sku ABC-123456",
        "part-a3f0612345678b0c.parquet",
        "run 8f0e1234-0123-4567-8901-abcdef012345",
        "customer_id 'C000123' has no match in customers",
    ],
)
def test_dates_amounts_and_identifiers_are_not_taken_for_phones(text):
    assert mask_text(text) == text


def test_mask_texts_is_one_pass_over_many_texts():
    assert mask_texts([]) == []
    assert mask_texts(["a@b.io", "none", "+33 6 47 58 69 12"]) == [
        "a***@b.io",
        "none",
        "+33 ** ** ** 12",
    ]


def _customers() -> DatasetSpec:
    return load_catalog()["customers"]


def test_builtin_customers_declare_name_email_phone_and_birth_date_personal():
    assert pii_masks(_customers()) == {
        "name": "initial",
        "email": "email",
        "phone": "phone",
        "birth_date": "year",
    }


def test_a_personal_key_or_foreign_key_is_hashed_so_it_still_joins():
    spec = DatasetSpec.model_validate(
        {
            "name": "contacts",
            "key": ["email"],
            "columns": [
                {"name": "email", "type": "string", "pii": True, "pattern": "email"},
                {"name": "manager_phone", "type": "string", "pii": True, "pattern": "phone"},
                {"name": "score", "type": "integer", "pii": True},
                {"name": "note", "type": "string"},
            ],
        }
    )
    assert pii_masks(spec) == {"email": "hash", "manager_phone": "phone", "score": "hidden"}


def test_declared_columns_are_masked_by_what_they_hold():
    frame = pl.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "name": ["Zelda Quixotewright", " ann lee", None],
            "email": ["zelda@gmail.com", "ann at x.io", None],
            "phone": ["+33 6 47 58 69 12", "0612345678", None],
            "birth_date": [date(1987, 3, 4), date(2001, 12, 31), None],
            "score": [7, 8, None],
            "seen": [datetime(2024, 1, 2, 3, 4), None, None],
        }
    )
    masked = mask_frame(
        frame,
        {
            "name": "initial",
            "email": "email",
            "phone": "phone",
            "birth_date": "year",
            "score": "hidden",
            "seen": "year",
        },
    )
    assert masked.to_dict(as_series=False) == {
        "customer_id": ["C1", "C2", "C3"],
        "name": ["Z***", "a***", None],
        "email": ["z***@gmail.com", "a***", None],
        "phone": ["+33 ** ** ** 12", "** ** ** 78", None],
        "birth_date": ["1987", "2001", None],
        "score": ["***", "***", None],
        "seen": ["2024", None, None],
    }


def test_a_rows_own_values_are_masked_where_other_text_quotes_them():
    frame = pl.DataFrame(
        {
            "name": ["Zelda Quixotewright", "Bo"],
            "email": ["zelda at privacy-probe.example", "bo@x.io"],
            "birth_date": [None, date(1990, 1, 2)],
            "_ingest_errors": ['{"birth_date": "31/02/1990"}', None],
            "_reason": [
                "email 'zelda at privacy-probe.example' does not look like email; "
                "birth_date is not a valid date: '31/02/1990'",
                "birth_date 1990-01-02 is below the minimum 1991-01-01; name 'Bo' is short",
            ],
            "_rules": [["pattern:email", "type:birth_date"], ["range:birth_date"]],
        }
    )
    masked = mask_frame(frame, {"name": "initial", "email": "email", "birth_date": "year"})
    assert masked["_reason"].to_list() == [
        "email 'z***' does not look like email; birth_date is not a valid date: '1990'",
        "birth_date 1990 is below the minimum 1991-01-01; name 'B***' is short",
    ]
    assert masked["_ingest_errors"].to_list() == ['{"birth_date": "1990"}', None]
    assert masked["_rules"].to_list() == frame["_rules"].to_list()


def test_undeclared_text_columns_and_lists_are_masked_by_pattern_lazily():
    lazy = pl.LazyFrame(
        {
            "comment": ["mail me at zelda@privacy-probe.example or +33 6 47 58 69 12", None],
            "tags": [["x@y.io", "plain"], []],
            "amount": [1.5, 2.0],
        }
    )
    masked = mask_frame(lazy)
    assert isinstance(masked, pl.LazyFrame)
    assert masked.collect().to_dict(as_series=False) == {
        "comment": ["mail me at z***@privacy-probe.example or +33 ** ** ** 12", None],
        "tags": [["x***@y.io", "plain"], []],
        "amount": [1.5, 2.0],
    }


def test_keyed_hash_is_hmac_sha256_under_the_configured_key(monkeypatch):
    values = pl.Series("k", ["zelda@privacy-probe.example", None, "é"])
    want = [
        "h:" + hmac.new(b"s3cret", v.encode(), hashlib.sha256).hexdigest()[:16]
        for v in ("zelda@privacy-probe.example", "é")
    ]
    assert keyed_hash(values, b"s3cret").to_list() == [want[0], None, want[1]]
    long_key = b"k" * 100
    assert keyed_hash(pl.Series(["a"]), long_key).to_list() == [
        "h:" + hmac.new(long_key, b"a", hashlib.sha256).hexdigest()[:16]
    ]
    monkeypatch.delenv(HASH_KEY_ENV, raising=False)
    assert hash_key() == DEV_HASH_KEY.encode()
    monkeypatch.setenv(HASH_KEY_ENV, "s3cret")
    assert keyed_hash(values).to_list() == [want[0], None, want[1]]
    frame = mask_frame(pl.DataFrame({"email": ["zelda@privacy-probe.example"]}), {"email": "hash"})
    assert frame["email"].to_list() == [want[0]]


def test_mask_json_masks_every_string_keys_included():
    value = {
        "landing/zelda@privacy-probe.example.csv": "unreadable near +33 6 47 58 69 12",
        "landing/zoe@privacy-probe.example.csv": ["ok", 3, None, {"to": "a@b.io"}],
        "count": 2,
    }
    assert mask_json(value) == {
        "landing/z***@privacy-probe.example.csv": "unreadable near +33 ** ** ** 12",
        "landing/z***@privacy-probe.example.csv (again)": ["ok", 3, None, {"to": "a***@b.io"}],
        "count": 2,
    }
