"""Hand-built rows of one small dataset, and flagging them as the validation asset does."""

import tempfile
from datetime import date, datetime
from pathlib import Path

import polars as pl
from polars.testing import assert_frame_equal

import assets.validation.flagging as flagging_mod
from assets.core.spec import DatasetSpec
from assets.validation.flagging import flag_rows
from assets.validation.rules import RULES, trusted_reference

TODAY = date(2026, 1, 1)

SPEC = DatasetSpec.model_validate(
    {
        "name": "items",
        "key": ["id"],
        "columns": [
            {"name": "id", "type": "string", "required": True, "unique": True},
            {"name": "qty", "type": "integer", "required": True, "min": 1, "max": 10},
            {"name": "kind", "type": "string", "allowed": ["a", "b"]},
            {"name": "email", "type": "string", "pattern": "email"},
            {"name": "born", "type": "date", "max": "today"},
            {"name": "opened", "type": "datetime"},
            {"name": "closed", "type": "datetime"},
            {"name": "parent_id", "type": "string"},
            {"name": "price", "type": "float"},
        ],
        "foreign_keys": [
            {"columns": ["parent_id"], "references": "parents", "ref_columns": ["pid"]}
        ],
        "rules": [
            {
                "kind": "compare",
                "name": "closed_after_opened",
                "left": "closed",
                "op": ">=",
                "right": "opened",
            },
            {
                "kind": "lookup_compare",
                "name": "price_within_cap",
                "left": "price",
                "op": "<=",
                "via": "parent_id",
                "references": "parents",
                "ref_key": "pid",
                "ref_column": "cap",
                "factor": 2.0,
            },
        ],
        "outliers": {"columns": ["price"], "method": "iqr", "iqr_k": 1.5},
    }
)
PARENT = DatasetSpec.model_validate(
    {
        "name": "parents",
        "key": ["pid"],
        "columns": [{"name": "pid", "required": True}, {"name": "cap", "type": "float", "min": 0}],
    }
)
PARENTS = pl.LazyFrame(
    {"pid": ["P1", "P2", "P3"], "cap": [10.0, 5.0, -1.0], "_ingest_errors": [None, None, None]},
    schema_overrides={"_ingest_errors": pl.String},
)

GOOD = {
    "id": "ok",
    "qty": 3,
    "kind": "a",
    "email": "a.b@c.io",
    "born": date(1990, 1, 1),
    "opened": datetime(2025, 1, 1),
    "closed": datetime(2025, 1, 2),
    "parent_id": "P1",
    "price": 10.0,
    "_ingest_errors": None,
    "_source_file": "f",
    "_file_sha256": "h",
    "_row_number": 1,
}


def frame(*changes: dict) -> pl.LazyFrame:
    rows = [{**GOOD, "id": f"r{i}", **ch} for i, ch in enumerate(changes)]
    schema = {
        "id": pl.String,
        "qty": pl.Int64,
        "kind": pl.String,
        "email": pl.String,
        "born": pl.Date,
        "opened": pl.Datetime("us"),
        "closed": pl.Datetime("us"),
        "parent_id": pl.String,
        "price": pl.Float64,
        "_ingest_errors": pl.String,
        "_source_file": pl.String,
        "_file_sha256": pl.String,
        "_row_number": pl.Int64,
    }
    return pl.LazyFrame(rows, schema=schema)


def flag(lf: pl.LazyFrame, auto_fix: bool = False) -> pl.DataFrame:
    """Flag through every path: one lazy query, and staged through a scratch file as the
    validation asset does, with the passing rows picked by the failing rows' ids or (too many
    failures to hold their ids) by evaluating the rules again. They must agree row for row."""
    lookups = {"parents": trusted_reference(PARENTS, PARENT, "cap", TODAY)}
    kwargs = dict(parent_keys={"parents": PARENTS}, lookups=lookups, today=TODAY, auto_fix=auto_fix)
    lazy = flag_rows(lf, SPEC, **kwargs).rows().collect()  # type: ignore[arg-type]
    limit = flagging_mod.MAX_FAILING_IDS
    for max_ids in (limit, 0):
        flagging_mod.MAX_FAILING_IDS = max_ids
        try:
            with tempfile.TemporaryDirectory() as tmp:
                scratch = Path(tmp) / "outcomes.parquet"
                staged = flag_rows(lf, SPEC, scratch=scratch, **kwargs).rows().collect()  # type: ignore[arg-type]
        finally:
            flagging_mod.MAX_FAILING_IDS = limit
        assert_frame_equal(staged, lazy)
    return lazy


def rules_of(changes: dict) -> list[str]:
    return flag(frame({}, changes))[RULES].to_list()[1]
