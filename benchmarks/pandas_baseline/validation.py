"""The baseline's ingestion and validation: pandas reads and casts the landing CSVs to the
same contracts, then pandera-on-pandas (a ``DataFrameSchema`` built from the same specs,
``lazy=True`` to collect every failure) plus pandas code for keys, foreign keys and cross-field
rules splits valid from quarantined rows."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa

from assets.core.spec import ColumnSpec, CompareRule, DatasetSpec

ORDER = ["customers", "products", "orders", "support_tickets", "usage_events"]
_OPS = {
    "<": np.less,
    "<=": np.less_equal,
    ">": np.greater,
    ">=": np.greater_equal,
    "==": np.equal,
    "!=": np.not_equal,
}


def _bound(col: ColumnSpec, value: float | str) -> object:
    if col.type in ("date", "datetime"):
        return pd.Timestamp(date.today() if value == "today" else value)
    return float(value)


def read_entity(folder: Path) -> pd.DataFrame:
    frames = [
        pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(folder.glob("*.csv"))
    ]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def cast(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Typed frame plus a per-row 'uncastable' flag, as the pipeline's conform step does."""
    out = raw.copy()
    bad = pd.Series(False, index=raw.index)
    for col in spec.columns:
        if col.name not in raw.columns:
            out[col.name] = pd.NA
            continue
        text = raw[col.name].str.strip()
        empty = text.isin(["", "null", "NULL", "None"])
        if col.type == "integer":
            value = pd.to_numeric(text.where(~empty), errors="coerce")
            value = value.where(value == value.round()).astype("Int64")
        elif col.type == "float":
            value = pd.to_numeric(text.where(~empty), errors="coerce")
        elif col.type == "boolean":
            low = text.str.lower()
            value = low.map({"true": True, "1": True, "yes": True, "false": False, "0": False})
        elif col.type in ("date", "datetime"):
            value = pd.to_datetime(text.where(~empty), errors="coerce", format="mixed")
        else:
            value = raw[col.name].where(~empty)
        bad |= value.isna() & ~empty
        out[col.name] = value
    return out, bad


def pandera_schema(spec: DatasetSpec) -> pa.DataFrameSchema:
    columns = {}
    for col in spec.columns:
        checks = []
        if col.min is not None:
            checks.append(pa.Check.ge(_bound(col, col.min)))
        if col.max is not None:
            checks.append(pa.Check.le(_bound(col, col.max)))
        if col.allowed is not None:
            checks.append(pa.Check.isin(col.allowed))
        if col.regex is not None:
            checks.append(pa.Check.str_matches(col.regex))
        columns[col.name] = pa.Column(nullable=not col.required, checks=checks, coerce=False)
    return pa.DataFrameSchema(columns, strict=False)


def validate(
    typed: pd.DataFrame,
    uncastable: pd.Series,
    spec: DatasetSpec,
    parents: dict[str, pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    bad = uncastable.copy()
    try:
        pandera_schema(spec).validate(typed, lazy=True)
    except pa.errors.SchemaErrors as exc:
        index = exc.failure_cases["index"].dropna().astype(int).unique()
        bad.loc[bad.index.isin(index)] = True
    for key in [spec.key, *spec.unique_keys]:
        if key:
            bad |= typed.duplicated(subset=key, keep="first") & typed[key].notna().all(axis=1)
    for fk in spec.foreign_keys:
        parent = parents.get(fk.references)
        if parent is not None:
            bad |= (
                ~typed[fk.columns[0]].isin(parent[fk.ref_columns[0]]) & typed[fk.columns[0]].notna()
            )
    for rule in spec.rules:
        if isinstance(rule, CompareRule):
            left, right = typed[rule.left], typed[rule.right]
            ok = _OPS[rule.op](left, right * rule.factor if rule.factor != 1 else right)
            bad |= ~ok.fillna(True).astype(bool) & left.notna() & right.notna()
        else:
            parent = parents.get(rule.references)
            if parent is None:
                continue
            ref = (
                typed[[rule.via]]
                .merge(
                    parent[[rule.ref_key, rule.ref_column]].drop_duplicates(rule.ref_key),
                    left_on=rule.via,
                    right_on=rule.ref_key,
                    how="left",
                )[rule.ref_column]
                .to_numpy()
            )
            left = typed[rule.left].to_numpy(dtype=float, na_value=np.nan)
            with np.errstate(invalid="ignore"):
                ok = _OPS[rule.op](left, ref.astype(float) * rule.factor)
            bad |= ~(ok | np.isnan(left) | np.isnan(ref.astype(float)))
    return typed[~bad], typed[bad]


def ingest(
    landing: Path, catalog: dict[str, DatasetSpec]
) -> dict[str, tuple[pd.DataFrame, pd.Series]]:
    """Every entity read and cast: (typed frame, uncastable flag) by name."""
    raw = {name: read_entity(landing / name) for name in ORDER}
    return {name: cast(raw[name], catalog[name]) for name in ORDER}


def validate_all(
    typed: dict[str, tuple[pd.DataFrame, pd.Series]],
    catalog: dict[str, DatasetSpec],
    out_dir: Path,
) -> dict[str, pd.DataFrame]:
    """Validate every entity, write its valid and quarantined rows; the valid rows by name."""
    valid: dict[str, pd.DataFrame] = {}
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in ORDER:
        # Parents are checked against every raw parent row, as the pipeline does.
        parents = {p: typed[p][0] for p in ORDER if p != name}
        good, quarantined = validate(*typed[name], catalog[name], parents)
        valid[name] = good
        good.to_parquet(out_dir / f"validated_{name}.parquet")
        quarantined.to_parquet(out_dir / f"quarantined_{name}.parquet")
    return valid
