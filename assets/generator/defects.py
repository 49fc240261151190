"""Defect injection with ground truth: every planted defect is recorded with its row key.

Defects are placed on disjoint rows, so each defective row carries exactly one kind and the
validation stage can be scored per kind. Duplicates are appended as new rows, so no parent key
ever disappears (which would create orphans that no label accounts for).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import polars as pl

DEFECT_KINDS = (
    "null_required",
    "duplicate_key",
    "exact_duplicate",
    "out_of_range",
    "malformed_email",
    "malformed_phone",
    "orphan_fk",
    "inconsistent",
    "outlier",
    "wrong_type",
)
# Kinds that add rows (copies of clean rows) rather than change existing ones.
APPENDED_KINDS = ("duplicate_key", "exact_duplicate")

# One planted defect: the entity, its kind, the column it is in and the row's key.
LABEL_SCHEMA = {"entity": pl.String, "kind": pl.String, "column": pl.String, "key": pl.String}

KEYS = {
    "customers": "customer_id",
    "products": "product_id",
    "orders": "order_id",
    "support_tickets": "ticket_id",
    "usage_events": "event_id",
}
NULLABLE_TARGETS = {
    "customers": ["email", "plan_type", "country"],
    "products": ["category", "name"],
    "orders": ["quantity", "order_ts", "channel"],
    "support_tickets": ["opened_ts", "priority"],
    "usage_events": ["event_ts", "feature"],
}
# Column that a duplicate-key row changes, and how, so it differs from the original row.
DUPLICATE_KEY_CHANGE = {
    "customers": ("company", None),
    "products": ("brand", None),
    "orders": (
        "channel",
        {"web": "mobile", "mobile": "store", "store": "partner", "partner": "web"},
    ),
    "support_tickets": (
        "priority",
        {"low": "medium", "medium": "high", "high": "urgent", "urgent": "low"},
    ),
    "usage_events": (
        "device",
        {"web": "ios", "ios": "android", "android": "desktop", "desktop": "web"},
    ),
}
OUT_OF_RANGE = {
    "customers": "birth_date",
    "products": "list_price",
    "orders": "quantity",
    "support_tickets": "satisfaction",
    "usage_events": "duration_s",
}
ORPHAN_FK = {
    "orders": ["customer_id", "product_id"],
    "support_tickets": ["customer_id"],
    "usage_events": ["customer_id"],
}
INCONSISTENT = {"orders": "unit_price", "support_tickets": "closed_ts"}
OUTLIER = {"orders": "quantity", "usage_events": "duration_s"}
WRONG_TYPE_TEXT = "#VALUE!"
WRONG_TYPE = {
    "products": "list_price",
    "orders": "quantity",
    "support_tickets": "satisfaction",
    "usage_events": "duration_s",
}


def applicable_kinds(entity: str, text_format: bool) -> list[str]:
    kinds = ["null_required", "duplicate_key", "exact_duplicate", "out_of_range"]
    if entity == "customers":
        kinds += ["malformed_email", "malformed_phone"]
    if entity in ORPHAN_FK:
        kinds.append("orphan_fk")
    if entity in INCONSISTENT:
        kinds.append("inconsistent")
    if entity in OUTLIER:
        kinds.append("outlier")
    if entity in WRONG_TYPE and text_format:
        kinds.append("wrong_type")
    return kinds


class DefectInjector:
    def __init__(
        self,
        rates: dict[str, float],
        *,
        text_format: bool,
        seed: int,
        n_customers: int,
        n_products: int,
        list_price: dict[str, float],
    ) -> None:
        self.rates = rates
        self.text_format = text_format
        self.seed = seed
        self.n_customers = n_customers
        self.n_products = n_products
        self.list_price = list_price
        # Labels not yet taken by ``drain``, and the running count of every label: the labels
        # themselves leave with each chunk, so memory does not grow with the rows generated.
        self._records: list[pl.DataFrame] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self.defective_products: set[str] = set()

    def _counts_for(self, entity: str, n: int) -> dict[str, int]:
        """How many rows of a chunk of ``n`` each applicable defect kind takes."""
        kinds = [k for k in applicable_kinds(entity, self.text_format) if self.rates.get(k, 0) > 0]
        return {k: int(self.rates[k] * n + 0.5) for k in kinds}

    def rows_out(self, entity: str, n: int) -> int:
        """How many rows ``inject`` returns for a chunk of ``n`` rows: duplicates are appended."""
        counts = self._counts_for(entity, n)
        return n + sum(counts.get(k, 0) for k in APPENDED_KINDS)

    def inject(self, entity: str, frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
        n = frame.height
        counts = self._counts_for(entity, n)
        kinds = list(counts)
        if not kinds:
            return frame
        key = KEYS[entity]
        total = sum(counts.values())
        if total >= n:
            raise ValueError(f"defect rates for {entity} add up to more rows than it has ({n})")
        perm = rng.permutation(n)
        if entity == "orders" and "inconsistent" in counts and self.defective_products:
            # A price can only be judged against a valid list price: plant price inconsistencies
            # on orders of clean products, so every planted defect is detectable.
            clean_product = ~frame["product_id"].is_in(sorted(self.defective_products)).to_numpy()
            head = perm[:total]
            eligible = head[clean_product[head]]
            k = counts["inconsistent"]
            if len(eligible) >= k:
                chosen = eligible[:k]
                rest = np.setdiff1d(head, chosen, assume_unique=True)
                offset = sum(counts[x] for x in kinds[: kinds.index("inconsistent")])
                head = np.concatenate([rest[:offset], chosen, rest[offset:]])
                perm = np.concatenate([head, perm[total:]])
        clean_pool = perm[total:]  # sources for duplicates: rows with no defect of their own
        start = 0
        appended: list[pl.DataFrame] = []
        cols = {c: frame[c] for c in frame.columns}
        keys = frame[key]
        for kind in kinds:
            idx = np.sort(perm[start : start + counts[kind]])
            start += counts[kind]
            if len(idx) == 0:
                continue
            column, new_rows = self._apply(entity, kind, idx, cols, frame, rng, clean_pool)
            if new_rows is not None:
                appended.append(new_rows)
                self._record(entity, kind, column, new_rows[key])
            elif isinstance(column, list):
                for c, sub in column:
                    self._record(entity, kind, c, keys.gather(sub))
            else:
                self._record(entity, kind, column, keys.gather(idx))
        if entity == "products":
            self.defective_products |= set(
                self.pending().filter(pl.col("entity") == "products")["key"].to_list()
            )
        out = pl.DataFrame(list(cols.values()))
        if appended:
            aligned = [
                a.select([pl.col(c).cast(out.schema[c]) for c in out.columns]) for a in appended
            ]
            out = pl.concat([out, *aligned])
        return out

    def _apply(
        self,
        entity: str,
        kind: str,
        idx: np.ndarray,
        cols: dict[str, pl.Series],
        frame: pl.DataFrame,
        rng: np.random.Generator,
        clean_pool: np.ndarray,
    ) -> tuple[Any, pl.DataFrame | None]:
        k = len(idx)
        if kind == "null_required":
            targets = NULLABLE_TARGETS[entity]
            per_col = []
            for j, c in enumerate(targets):
                sub = idx[j :: len(targets)]
                if len(sub):
                    cols[c] = cols[c].scatter(sub, None)
                    per_col.append((c, sub))
            return per_col, None
        if kind in APPENDED_KINDS:
            src = np.sort(rng.choice(clean_pool, size=k, replace=False))
            rows = frame[src]
            if kind == "duplicate_key":
                c, mapping = DUPLICATE_KEY_CHANGE[entity]
                changed = (
                    pl.col(c).replace_strict(mapping, default=pl.col(c))
                    if mapping
                    else pl.col(c).fill_null("") + " (2)"
                )
                rows = rows.with_columns(changed.alias(c))
            return KEYS[entity], rows
        if kind == "out_of_range":
            c = OUT_OF_RANGE[entity]
            s = cols[c]
            if entity == "customers":
                vals = pl.Series(rng.integers(47_500, 50_000, k)).cast(pl.Int32).cast(pl.Date)
            elif entity == "support_tickets":
                vals = pl.Series(rng.integers(7, 10, k))
            elif entity == "products":
                vals = pl.Series(-np.round(rng.uniform(1, 50, k), 2))
            else:
                vals = pl.Series(-rng.integers(1, 6, k)).cast(s.dtype)
            cols[c] = s.scatter(idx, vals.cast(s.dtype))
            return c, None
        if kind == "malformed_email":
            emails = cols["email"].gather(idx)
            cols["email"] = cols["email"].scatter(
                idx, emails.str.replace("@", " at ", literal=True)
            )
            return "email", None
        if kind == "malformed_phone":
            phones = cols["phone"].gather(idx)
            cols["phone"] = cols["phone"].scatter(idx, phones.str.replace_all("[0-9]", "x"))
            return "phone", None
        if kind == "orphan_fk":
            targets = ORPHAN_FK[entity]
            per_col = []
            for j, c in enumerate(targets):
                sub = idx[j :: len(targets)]
                if len(sub) == 0:
                    continue
                # One digit longer than any real key, so it can never match.
                if c == "customer_id":
                    fake = "C9" + pl.Series(rng.integers(0, 10**8, len(sub))).cast(
                        pl.String
                    ).str.zfill(8)
                else:
                    fake = "P9" + pl.Series(rng.integers(0, 10**6, len(sub))).cast(
                        pl.String
                    ).str.zfill(6)
                cols[c] = cols[c].scatter(sub, fake)
                per_col.append((c, sub))
            return per_col, None
        if kind == "inconsistent":
            if entity == "orders":
                prods = cols["product_id"].gather(idx)
                lp = prods.replace_strict(self.list_price, default=None, return_dtype=pl.Float64)
                factor = pl.Series(rng.uniform(2.0, 3.0, k))
                cols["unit_price"] = cols["unit_price"].scatter(idx, (lp * factor).round(2))
                return "unit_price", None
            opened = cols["opened_ts"].gather(idx)
            hours = pl.Series(rng.integers(1, 72, k) * 3_600_000_000).cast(pl.Duration("us"))
            cols["closed_ts"] = cols["closed_ts"].scatter(idx, opened - hours)
            return "closed_ts", None
        if kind == "outlier":
            c = OUTLIER[entity]
            if entity == "orders":
                vals = pl.Series(rng.integers(50, 500, k))
            else:
                vals = pl.Series(np.round(rng.uniform(20_000, 90_000, k), 1))
            cols[c] = cols[c].scatter(idx, vals.cast(cols[c].dtype))
            return c, None
        if kind == "wrong_type":
            c = WRONG_TYPE[entity]
            text = cols[c].cast(pl.String)
            # A spreadsheet error, not "N/A": that one is a default null value (missing, so
            # not a type error) and would hide the defect.
            cols[c] = text.scatter(idx, pl.Series([WRONG_TYPE_TEXT] * k))
            return c, None
        raise AssertionError(kind)

    def _record(self, entity: str, kind: str, column: str, keys: pl.Series) -> None:
        self._counts[(entity, kind)] += len(keys)
        self._records.append(
            pl.DataFrame(
                {
                    "entity": pl.Series([entity] * len(keys), dtype=pl.String),
                    "kind": pl.Series([kind] * len(keys), dtype=pl.String),
                    "column": pl.Series([column] * len(keys), dtype=pl.String),
                    "key": keys.cast(pl.String),
                }
            )
        )

    def pending(self) -> pl.DataFrame:
        """The labels recorded since the last ``drain`` (entity, kind, column, key)."""
        if not self._records:
            return pl.DataFrame(schema=LABEL_SCHEMA)
        return pl.concat(self._records)

    def drain(self) -> pl.DataFrame:
        """The labels recorded since the last call, which the injector then forgets."""
        out = self.pending()
        self._records = []
        return out

    def counts(self) -> dict[str, dict[str, int]]:
        """How many defects of each kind were planted per entity, over every chunk."""
        out: dict[str, dict[str, int]] = {}
        for (entity, kind), n in sorted(self._counts.items()):
            if n:
                out.setdefault(entity, {})[kind] = n
        return out
