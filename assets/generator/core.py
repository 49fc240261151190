"""The synthetic generator: five related entities with planted effects, chunked and seeded.

Every value is sampled vectorised (NumPy + Polars); Faker only builds small pools up front. Large
entities are produced in chunks of ``chunk_rows`` so memory stays flat for any size. The same
seed and config give byte-identical files and manifest.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import polars as pl

from assets.core.writers import FORMATS, ParquetAppender, write_frame
from assets.generator import defects as defects_mod
from assets.generator.pools import cities, countries, country_pool, occupations

# The defect labels beside ``manifest.json`` (one row per planted defect).
DEFECTS_FILE = "defects.parquet"
PLANS = ["free", "basic", "pro", "enterprise"]
PLAN_P = [0.40, 0.30, 0.20, 0.10]
PLAN_SPEND = np.array([0.5, 1.0, 1.6, 3.0])
PLAN_USAGE = np.array([0.6, 1.0, 1.3, 1.6])
PLAN_SUPPORT = np.array([0.8, 1.0, 1.1, 1.2])
# Log-odds of churning over the window: the planted churn drivers.
CHURN_INTERCEPT = -1.3
CHURN_PLAN_EFFECT = {"free": 1.0, "basic": 0.3, "pro": -0.4, "enterprise": -1.1}
CHURN_SUPPORT_COEF = 1.0  # per standard deviation of support propensity
CHURN_USAGE_COEF = -0.9  # per standard deviation of log usage intensity

CATEGORIES = {
    # category: (code, base list price EUR, planted price elasticity of demand)
    "electronics": ("ELC", 220.0, -1.8),
    "home": ("HOM", 60.0, -1.2),
    "apparel": ("APP", 45.0, -1.5),
    "sports": ("SPT", 70.0, -1.3),
    "beauty": ("BTY", 25.0, -0.9),
    "books": ("BKS", 18.0, -0.7),
    "toys": ("TOY", 30.0, -1.1),
    "grocery": ("GRC", 8.0, -0.5),
}
CATEGORY_NOUNS = {
    "electronics": ["Headphones", "Speaker", "Monitor", "Keyboard", "Camera", "Tablet"],
    "home": ["Lamp", "Blender", "Kettle", "Pillow", "Rug", "Vase"],
    "apparel": ["Jacket", "Sneakers", "Hoodie", "Jeans", "Scarf", "Cap"],
    "sports": ["Yoga Mat", "Dumbbell", "Racket", "Helmet", "Bottle", "Tent"],
    "beauty": ["Serum", "Lotion", "Lipstick", "Shampoo", "Perfume", "Mask"],
    "books": ["Novel", "Cookbook", "Atlas", "Biography", "Guide", "Anthology"],
    "toys": ["Puzzle", "Robot", "Doll", "Blocks", "Kite", "Board Game"],
    "grocery": ["Coffee", "Tea", "Olive Oil", "Chocolate", "Pasta", "Honey"],
}
WEEKDAY_EFFECT = [0.95, 0.97, 1.00, 1.02, 1.08, 1.15, 0.83]  # Monday..Sunday
TREND_PER_YEAR = 0.25
YEARLY_AMPLITUDE = 0.15
YEARLY_PEAK_DAY_OF_YEAR = 330
ANOMALY_SPIKE = 4.0  # symmetric in log space with the dip: log 4 = -log 0.25
ANOMALY_DIP = 0.25

ENTITIES = ["customers", "products", "orders", "support_tickets", "usage_events"]
US_PER_DAY = 86_400_000_000
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class GeneratorConfig:
    customers: int = 2_000
    orders: int = 20_000
    products: int | None = None  # default: customers / 50, at least 50
    support_tickets: int | None = None  # default: two per customer
    usage_events: int | None = None  # default: as many as orders
    seed: int = 7
    start_date: date = date(2024, 1, 1)
    end_date: date = date(2025, 12, 31)
    defect_rates: dict[str, float] = field(default_factory=dict)
    fmt: str = "parquet"
    chunk_rows: int = 1_000_000
    anomaly_days: int = 6

    def __post_init__(self) -> None:
        if self.fmt not in FORMATS:
            raise ValueError(f"fmt: {self.fmt!r} is not one of {', '.join(FORMATS)}")
        if self.customers < 10:
            raise ValueError("customers: at least 10 are needed")
        if self.orders < 1:
            raise ValueError("orders: at least 1 is needed")
        if self.end_date <= self.start_date + timedelta(days=180):
            raise ValueError("end_date: must be at least 180 days after start_date")
        if self.chunk_rows < 1_000:
            raise ValueError("chunk_rows: at least 1000")
        unknown = set(self.defect_rates) - set(defects_mod.DEFECT_KINDS)
        if unknown:
            raise ValueError(
                f"defect_rates: unknown kinds {sorted(unknown)}; "
                f"known: {', '.join(defects_mod.DEFECT_KINDS)}"
            )
        for kind, rate in self.defect_rates.items():
            if not 0 <= rate <= 0.2:
                raise ValueError(f"defect_rates.{kind}: {rate} is outside 0..0.2")

    @property
    def n_products(self) -> int:
        return self.products if self.products is not None else max(50, self.customers // 50)

    @property
    def n_tickets(self) -> int:
        if self.support_tickets is not None:
            return self.support_tickets
        return max(1, 2 * self.customers)

    @property
    def n_events(self) -> int:
        return self.usage_events if self.usage_events is not None else self.orders

    @property
    def span_days(self) -> int:
        return (self.end_date - self.start_date).days + 1


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / (x.std() + 1e-12)


def _ids(prefix: str, start: int, n: int, width: int) -> pl.Series:
    """Sequential string keys such as C00000001, vectorised.

    The zero padding comes from counting from ``10**width`` and dropping the leading 1: half the
    cost of ``str.zfill`` (1M keys: 0.17 s to 0.08 s). Numbers wider than ``width`` keep all
    their digits, as ``zfill`` would.
    """
    base = 10**width
    if start + n > base:
        digits = pl.int_range(start, start + n, dtype=pl.Int64, eager=True).cast(pl.String)
        return (prefix + digits.str.zfill(width)).alias("id")
    shifted = pl.int_range(base + start, base + start + n, dtype=pl.Int64, eager=True)
    return (prefix + shifted.cast(pl.String).str.slice(1)).alias("id")


def _weighted_pick(rng: np.random.Generator, weights: np.ndarray, n: int) -> np.ndarray:
    """``n`` indices drawn independently with probability proportional to ``weights``.

    The picks are drawn in ascending order and then shuffled: the same distribution as ``n``
    independent draws, without a random-access binary search per draw (4M picks among 500k
    weights: 0.86 s to 0.15 s). Ascending picks come one of two ways:

    - many picks for the weights (``n >= len``): how often each index is drawn is one
      multinomial draw, whose cost grows with the number of weights, not of picks;
    - few picks: sorted uniforms looked up in the running sum, each search starting from the
      last (100k picks among 500k weights: 29 ms to 6 ms). The orders' rejection loop redraws
      ever fewer customers, so most of its rounds are of this kind.
    """
    w = np.clip(np.asarray(weights, dtype=np.float64), 0.0, None)
    if n >= len(w):
        return _shuffled(rng, _multinomial_picks(rng, w, n))
    return _shuffled(rng, _sorted_picks(rng, np.cumsum(w), n))


def _pick_cum(rng: np.random.Generator, cum: np.ndarray, n: int) -> np.ndarray:
    """Indices drawn with probability proportional to the weights whose running sum is ``cum``."""
    if n >= len(cum):
        w = np.clip(np.diff(cum, prepend=0.0), 0.0, None)
        return _shuffled(rng, _multinomial_picks(rng, w, n))
    return _shuffled(rng, _sorted_picks(rng, cum, n))


def _multinomial_picks(rng: np.random.Generator, w: np.ndarray, n: int) -> np.ndarray:
    total = w.sum()
    if not total > 0:
        return np.full(n, len(w) - 1, dtype=np.int64)  # no weight anywhere: the last index
    return np.repeat(np.arange(len(w), dtype=np.int64), rng.multinomial(n, w / total))


def _sorted_picks(rng: np.random.Generator, cum: np.ndarray, n: int) -> np.ndarray:
    total = float(cum[-1]) if len(cum) else 0.0
    if not total > 0:
        return np.full(n, len(cum) - 1, dtype=np.int64)
    u = np.sort(rng.random(n)) * total
    # side="right" never lands on a zero weight (its edge equals the one before). Rounding can
    # put ``u`` at the total, so the index is capped at the last weight above zero.
    last = int(np.searchsorted(cum, total, side="left"))
    return np.minimum(np.searchsorted(cum, u, side="right"), last).astype(np.int64)


def _shuffled(rng: np.random.Generator, picks: np.ndarray) -> np.ndarray:
    if len(picks) == 0:
        return picks
    # Polars' shuffle, seeded from ``rng``, is 4x NumPy's (1M picks: 25 ms against 103 ms).
    seed = int(rng.integers(2**63 - 1))
    return pl.Series(picks).shuffle(seed=seed).to_numpy()


def _bin_of(cum: np.ndarray, x: np.ndarray, guide_size: int = 8192) -> np.ndarray:
    """``searchsorted(cum, x, side="right") - 1`` for ``x >= 0`` and a short ascending ``cum``.

    A guide table gives, for each of ``guide_size`` equal slices of ``[0, cum[-1])``, a bin at
    or before the first one the slice can fall in (one early, so rounding never puts it past
    the answer); each value then steps forward while the next edge is at or below it, a step
    or two with slices this fine. 1.3M values among 731 days: ~64 ms against ~105 ms for
    NumPy's binary search, with the same result.
    """
    last = len(cum) - 1
    total = float(cum[-1])
    if last < 1 or not total > 0:
        return np.searchsorted(cum, x, side="right") - 1
    edges = np.arange(guide_size) * (total / guide_size)
    guide = np.maximum(np.searchsorted(cum, edges, side="right") - 2, 0)
    d = guide[np.clip((x * (guide_size / total)).astype(np.int64), 0, guide_size - 1)]
    for _ in range(last + 1):
        step = (d < last) & (cum[np.minimum(d + 1, last)] <= x)
        if not step.any():
            break
        d += step
    return d


def _labels(values: list[str], codes: np.ndarray) -> pl.Series:
    """Strings by integer code: a gather from a tiny Series, not a NumPy string conversion."""
    return pl.Series(values, dtype=pl.String).gather(codes)


@dataclass
class _World:
    """Everything later entities need from customers and products (columnar, in memory)."""

    customer_ids: pl.Series
    plan_idx: np.ndarray
    window_start: np.ndarray  # first day (offset from start_date) a customer can act
    window_end: np.ndarray  # day after the last active day
    churner: np.ndarray
    spend_w: np.ndarray
    usage_w: np.ndarray
    support_w: np.ndarray
    product_ids: pl.Series
    list_price: np.ndarray
    product_category: np.ndarray
    product_pop: np.ndarray
    price_factor: np.ndarray  # products x weeks
    day_weight: np.ndarray  # per day: trend x weekday x season x anomalies
    anomalies: list[dict[str, Any]]
    elasticity: np.ndarray  # per product


class _Progress:
    def __init__(self, total: int, callback: Callable[[int, int], None] | None) -> None:
        self.total, self.done, self.callback = total, 0, callback

    def advance(self, rows: int) -> None:
        self.done += rows
        if self.callback:
            self.callback(self.done, self.total)


def _day_weights(cfg: GeneratorConfig, rng: np.random.Generator) -> tuple[np.ndarray, list]:
    days = np.arange(cfg.span_days)
    dates = np.array([cfg.start_date.toordinal()]) + days
    weekday = (dates - 1) % 7  # date.fromordinal(1) is a Monday
    doy = np.array([date.fromordinal(int(d)).timetuple().tm_yday for d in dates[:1]])[0] + days
    w = (1 + TREND_PER_YEAR * days / 365.25) * np.asarray(WEEKDAY_EFFECT)[weekday]
    w = w * (1 + YEARLY_AMPLITUDE * np.cos(2 * np.pi * (doy - YEARLY_PEAK_DAY_OF_YEAR) / 365.25))
    anomalies = []
    if cfg.anomaly_days:
        # Planted anomalies sit after the first 90 days, apart from each other.
        candidates = np.arange(90, cfg.span_days - 7, 9)
        picked = np.sort(
            rng.choice(candidates, size=min(cfg.anomaly_days, len(candidates)), replace=False)
        )
        for i, d in enumerate(picked):
            factor = ANOMALY_SPIKE if i % 2 == 0 else ANOMALY_DIP
            w[d] *= factor
            anomalies.append(
                {
                    "date": (cfg.start_date + timedelta(days=int(d))).isoformat(),
                    "kind": "spike" if factor > 1 else "dip",
                    "order_volume_factor": factor,
                }
            )
    return w, anomalies


def _customers(cfg: GeneratorConfig, rng: np.random.Generator) -> tuple[CustomerRows, dict]:
    """The customers (as ``CustomerRows``, built a slice at a time) and their latent behaviour.

    Plan, sign-up day and behaviour are drawn here for every customer: later entities need
    them. Names, addresses and the rest of the text come from ``CustomerRows``, per block of
    ``CUSTOMER_BLOCK`` customers with the block's own seed, so no draw for text spans the
    whole table (drawn whole, 2.5M customers took 0.7 GB before a row was built).
    """
    n = cfg.customers
    ctry = countries()
    cty = cities()
    pool_size = 300
    firsts, lasts, fslug, lslug, streets, companies = [], [], [], [], [], []
    comp_offsets, domains, dom_offsets, dom_counts = [], [], [], []
    for i, row in enumerate(ctry.iter_rows(named=True)):
        pool = country_pool(row["locale"], cfg.seed + i, pool_size)
        firsts += pool.first_names
        lasts += pool.last_names
        fslug += pool.first_slugs
        lslug += pool.last_slugs
        streets += pool.streets
        comp_offsets.append(len(companies))
        companies += pool.companies
        ds = row["email_domains"].split("|")
        dom_offsets.append(len(domains))
        dom_counts.append(len(ds))
        domains += ds
    codes = ctry["country_code"].to_numpy()
    cty_sorted = cty.sort("country_code", maintain_order=True)
    city_codes = cty_sorted["country_code"].to_numpy()
    city_off = np.searchsorted(city_codes, codes, side="left")
    occ = occupations(cfg.seed)
    span = cfg.span_days
    plan_idx = _weighted_pick(rng, np.asarray(PLAN_P), n)
    # Sign-ups continue to the last fortnight, so the active base keeps the planted trend.
    created = rng.integers(-365, span - 14, n)
    start_ord = cfg.start_date.toordinal() - EPOCH.toordinal()
    s = pl.Series
    rows = CustomerRows(
        n=n,
        seed=np.random.SeedSequence(int(rng.integers(0, 2**63))),
        per_customer={
            "plan_idx": plan_idx.astype(np.int8),
            "account_created_date": (start_ord + created).astype(np.int32),
        },
        country=_CountryLookup(
            weight=ctry["weight"].to_numpy(),
            pool_size=pool_size,
            comp_offsets=np.asarray(comp_offsets),
            comp_counts=np.diff([*comp_offsets, len(companies)]),
            dom_offsets=np.asarray(dom_offsets),
            dom_counts=np.asarray(dom_counts),
            city_offsets=city_off,
            city_counts=np.searchsorted(city_codes, codes, side="right") - city_off,
            occupations=len(occ),
            birth_ord=start_ord + span,
        ),
        pools={
            "first": s("first", firsts),
            "last": s("last", lasts),
            "fslug": s(fslug),
            "lslug": s(lslug),
            "domain": s(domains),
            "address": s(streets),
            "occupation": s(occ),
            "company": s(companies),
            "calling_code": ctry["calling_code"],
            "country": ctry["country"],
            "country_code": ctry["country_code"],
            "city": cty_sorted["city"],
            "region": cty_sorted["region"],
            "plan_type": s(PLANS),
        },
    )

    # Latent behaviour: heavy-tailed spend, usage intensity, support propensity, churn.
    spend_w = rng.lognormal(0.0, 1.0, n) * PLAN_SPEND[plan_idx]
    usage_w = rng.lognormal(0.0, 0.6, n) * PLAN_USAGE[plan_idx]
    support_w = rng.gamma(2.0, 0.5, n) * PLAN_SUPPORT[plan_idx]
    plan_eff = np.asarray([CHURN_PLAN_EFFECT[p] for p in PLANS])[plan_idx]
    logit = (
        CHURN_INTERCEPT
        + plan_eff
        + CHURN_SUPPORT_COEF * _zscore(support_w)
        + CHURN_USAGE_COEF * _zscore(np.log(usage_w))
    )
    window_start = np.maximum(created, 0)
    churn_day = (
        window_start
        + 45
        + (rng.random(n) * np.maximum(span - window_start - 45, 1)).astype(np.int64)
    )
    churner = (rng.random(n) < _sigmoid(logit)) & (churn_day < span - 1)
    window_end = np.where(churner, churn_day, span)

    latent = {
        "plan_idx": plan_idx,
        "window_start": window_start,
        "window_end": window_end,
        "churner": churner,
        "spend_w": spend_w,
        "usage_w": usage_w,
        "support_w": support_w,
    }
    return rows, latent


# The customers table's columns, from the drawn parts ``CustomerRows`` gathers.
CUSTOMER_COLUMNS = [
    "customer_id",
    (pl.col("first") + " " + pl.col("last")).alias("name"),
    pl.concat_str(
        pl.col("fslug"),
        pl.lit("."),
        pl.col("lslug"),
        pl.when(pl.col("with_digits")).then(pl.col("digits").cast(pl.String)).otherwise(pl.lit("")),
        pl.lit("@"),
        pl.col("domain"),
    ).alias("email"),
    pl.concat_str(
        pl.lit("+"),
        pl.col("calling_code"),
        pl.lit(" "),
        pl.col("area").cast(pl.String),
        pl.lit(" "),
        pl.col("mid").cast(pl.String),
        pl.lit(" "),
        pl.col("last4").cast(pl.String).str.zfill(4),
    ).alias("phone"),
    "address",
    "city",
    "country",
    "country_code",
    "region",
    pl.col("birth_date").cast(pl.Date),
    "occupation",
    "company",
    "plan_type",
    pl.col("account_created_date").cast(pl.Date),
]


# Customers whose text is drawn together, from one seed: the table is the same whatever the
# chunk size it is written in.
CUSTOMER_BLOCK = 100_000


@dataclass(frozen=True)
class _CountryLookup:
    """Where each country's names, companies, domains and cities sit in the pools."""

    weight: np.ndarray
    pool_size: int
    comp_offsets: np.ndarray
    comp_counts: np.ndarray
    dom_offsets: np.ndarray
    dom_counts: np.ndarray
    city_offsets: np.ndarray
    city_counts: np.ndarray
    occupations: int
    birth_ord: int

    def draw(self, rng: np.random.Generator, m: int) -> dict[str, np.ndarray]:
        """Indexes into the pools and the numbers of ``m`` customers' text."""
        c_idx = _weighted_pick(rng, self.weight, m)
        size = self.pool_size
        return {
            "c_idx": c_idx,
            "pick": c_idx * size + rng.integers(0, size, m),
            "pick_last": c_idx * size + rng.integers(0, size, m),
            "pick_street": c_idx * size + rng.integers(0, size, m),
            "pick_comp": self.comp_offsets[c_idx]
            + (rng.random(m) * self.comp_counts[c_idx]).astype(np.int64),
            "pick_dom": self.dom_offsets[c_idx]
            + (rng.random(m) * self.dom_counts[c_idx]).astype(np.int64),
            "pick_city": self.city_offsets[c_idx]
            + (rng.random(m) * self.city_counts[c_idx]).astype(np.int64),
            "birth_date": (self.birth_ord - rng.integers(18 * 365, 80 * 365, m)).astype(np.int32),
            "digits": rng.integers(0, 100, m),
            "with_digits": rng.random(m) < 0.5,
            "area": rng.integers(200, 1000, m),
            "mid": rng.integers(100, 1000, m),
            "last4": rng.integers(0, 10_000, m),
            "occupation": rng.integers(0, self.occupations, m),
        }


class CustomerRows:
    """The customers table, built a slice of rows at a time."""

    def __init__(
        self,
        *,
        n: int,
        seed: np.random.SeedSequence,
        per_customer: dict[str, np.ndarray],
        country: _CountryLookup,
        pools: dict[str, pl.Series],
    ) -> None:
        self.n, self.per_customer, self.country, self.pools = n, per_customer, country, pools
        self.block_seeds = seed.spawn(max(1, math.ceil(n / CUSTOMER_BLOCK)))
        self.ids = _ids("C", 1, n, 8)

    def _draws(self, lo: int, hi: int) -> dict[str, np.ndarray]:
        """The text draws of customers ``lo`` to ``hi``, from the blocks that hold them."""
        parts = []
        for b in range(lo // CUSTOMER_BLOCK, (hi - 1) // CUSTOMER_BLOCK + 1):
            b_lo = b * CUSTOMER_BLOCK
            m = min(CUSTOMER_BLOCK, self.n - b_lo)
            block = self.country.draw(np.random.default_rng(self.block_seeds[b]), m)
            cut = slice(max(lo, b_lo) - b_lo, min(hi, b_lo + m) - b_lo)
            parts.append({k: v[cut] for k, v in block.items()})
        d = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        d.update({k: v[lo:hi] for k, v in self.per_customer.items()})
        return d

    def frame(self, lo: int = 0, hi: int | None = None) -> pl.DataFrame:
        """Customers ``lo`` to ``hi``, built a block at a time: the draws and the gathered text
        of a whole 1M-row file took ~2.7x the finished frame's memory (929 MB for 158 MB)."""
        hi = self.n if hi is None else min(hi, self.n)
        if hi <= lo:
            return self._frame(lo, lo)
        cuts = range(lo, hi, CUSTOMER_BLOCK)
        return pl.concat([self._frame(a, min(a + CUSTOMER_BLOCK, hi)) for a in cuts], rechunk=False)

    def _frame(self, lo: int, hi: int) -> pl.DataFrame:
        d = self._draws(lo, hi)
        p = self.pools

        def pick(pool: str, index: str) -> pl.Series:
            return p[pool].gather(d[index]).alias(pool)

        df = pl.DataFrame(
            [
                self.ids.slice(lo, hi - lo).alias("customer_id"),
                pick("first", "pick"),
                pick("last", "pick_last"),
                pick("fslug", "pick"),
                pick("lslug", "pick_last"),
                pl.Series("digits", d["digits"]),
                pl.Series("with_digits", d["with_digits"]),
                pick("domain", "pick_dom"),
                pick("calling_code", "c_idx"),
                pl.Series("area", d["area"]),
                pl.Series("mid", d["mid"]),
                pl.Series("last4", d["last4"]),
                pick("address", "pick_street"),
                pick("city", "pick_city"),
                pick("country", "c_idx"),
                pick("country_code", "c_idx"),
                pick("region", "pick_city"),
                pl.Series("birth_date", d["birth_date"]),
                pick("occupation", "occupation"),
                pick("company", "pick_comp"),
                pick("plan_type", "plan_idx"),
                pl.Series("account_created_date", d["account_created_date"]),
            ]
        )
        return df.select(*CUSTOMER_COLUMNS)


def _products(cfg: GeneratorConfig, rng: np.random.Generator) -> tuple[pl.DataFrame, dict]:
    n = cfg.n_products
    cats = list(CATEGORIES)
    cat_idx = rng.integers(0, len(cats), n)
    base = np.asarray([CATEGORIES[c][1] for c in cats])[cat_idx]
    list_price = np.round(base * rng.lognormal(0.0, 0.45, n), 2).clip(0.5, None)
    unit_cost = np.round(list_price * rng.uniform(0.35, 0.7, n), 2)
    sku_num = rng.permutation(900_000)[:n] + 100_000
    codes = np.asarray([CATEGORIES[c][0] for c in cats])[cat_idx]
    adjectives = ["Classic", "Pro", "Ultra", "Eco", "Smart", "Mini", "Max", "Prime", "Lite", "Plus"]
    nouns_flat, noun_off = [], []
    for c in cats:
        noun_off.append(len(nouns_flat))
        nouns_flat += CATEGORY_NOUNS[c]
    noun_pick = np.asarray(noun_off)[cat_idx] + rng.integers(0, 6, n)
    brands = [
        "Acme",
        "Northwind",
        "Globex",
        "Initech",
        "Umbrella",
        "Stark",
        "Wayne",
        "Hooli",
        "Vandelay",
        "Soylent",
        "Tyrell",
        "Cyberdyne",
        "Wonka",
        "Aperture",
        "Oscorp",
    ]
    df = pl.DataFrame(
        {
            "product_id": _ids("P", 1, n, 6),
            "sku": pl.Series(codes) + "-" + pl.Series(sku_num).cast(pl.String).str.zfill(6),
            "adj": np.asarray(adjectives)[rng.integers(0, len(adjectives), n)],
            "noun": np.asarray(nouns_flat)[noun_pick],
            "model": rng.integers(100, 1000, n),
            "category": np.asarray(cats)[cat_idx],
            "brand": np.asarray(brands)[rng.integers(0, len(brands), n)],
            "list_price": list_price,
            "unit_cost": unit_cost,
        }
    ).select(
        "product_id",
        "sku",
        (pl.col("adj") + " " + pl.col("noun") + " " + pl.col("model").cast(pl.String)).alias(
            "name"
        ),
        "category",
        "brand",
        "list_price",
        "unit_cost",
    )
    n_weeks = cfg.span_days // 7 + 1
    # Weekly prices around list price, with occasional promotions: demand responds to them.
    pf = np.exp(rng.normal(0.0, 0.06, (n, n_weeks)))
    promo = rng.random((n, n_weeks)) < 0.06
    pf = np.where(promo, pf * 0.82, pf).clip(0.75, 1.2)
    elasticity = np.asarray([CATEGORIES[c][2] for c in cats])[cat_idx]
    popularity = 1.0 / np.arange(1, n + 1) ** 0.8
    popularity = popularity[rng.permutation(n)]
    return df, {
        "list_price": list_price,
        "category": np.asarray(cats)[cat_idx],
        "price_factor": pf,
        "elasticity": elasticity,
        "popularity": popularity,
    }


def _draw_days(
    rng: np.random.Generator,
    who: np.ndarray,
    world: _World,
    accept: Callable[[np.ndarray, np.ndarray], np.ndarray],
) -> np.ndarray:
    """Days within each actor's active window, accepted with probability ``accept(who, day)``."""
    days = np.empty(len(who), dtype=np.int64)
    todo = np.arange(len(who))
    for _ in range(200):
        if len(todo) == 0:
            break
        a, b = world.window_start[who[todo]], world.window_end[who[todo]]
        d = a + (rng.random(len(todo)) * (b - a)).astype(np.int64)
        ok = rng.random(len(todo)) < accept(who[todo], d)
        days[todo[ok]] = d[ok]
        todo = todo[~ok]
    if len(todo):  # astronomically unlikely: accept the last draw rather than loop forever
        days[todo] = world.window_start[who[todo]]
    return days


def _timestamps(
    rng: np.random.Generator, days: np.ndarray, start_ord: int, mean_h: float
) -> np.ndarray:
    secs = np.clip(rng.normal(mean_h * 3600, 4 * 3600, len(days)), 0, 86_399).astype(np.int64)
    return (start_ord + days) * US_PER_DAY + secs * 1_000_000


def _day_cum(world: _World) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(world.day_weight)])


def _order_weights(world: _World) -> np.ndarray:
    """Running sum of each customer's share of orders: spend x the seasonal mass of the days
    they are active."""
    day_cum = _day_cum(world)
    mass = day_cum[world.window_end] - day_cum[world.window_start]
    return np.cumsum(world.spend_w * np.maximum(mass, 0.0))


def _active_weights(world: _World, propensity: np.ndarray) -> np.ndarray:
    """Running sum of ``propensity`` x the days a customer is active (tickets and events)."""
    active_len = np.maximum(world.window_end - world.window_start, 0).astype(np.float64)
    return np.cumsum(np.clip(propensity * active_len, 0.0, None))


# Each entity's running sum of per-customer weights, computed once before its chunks are built:
# per chunk it held ~6 customer-length temporaries (2.5M customers: ~100 MB a chunk in flight).
CUSTOMER_WEIGHTS: dict[str, Callable[[_World], np.ndarray]] = {
    "orders": _order_weights,
    "support_tickets": lambda world: _active_weights(world, world.support_w),
    "usage_events": lambda world: _active_weights(world, world.usage_w),
}


class ChunkJob(NamedTuple):
    """One chunk of a fact entity (orders, tickets, events) for its chunk maker: rows
    ``offset`` to ``offset + m``, drawn with ``rng`` from the customers' running weights."""

    cfg: GeneratorConfig
    rng: np.random.Generator
    world: _World
    cust_cum: np.ndarray
    offset: int
    m: int


def _orders_chunk(job: ChunkJob) -> pl.DataFrame:
    cfg, rng, world, cust_cum, offset, m = job
    day_cum = _day_cum(world)
    pop_cum = np.cumsum(world.product_pop)
    demand = world.price_factor ** world.elasticity[:, None]
    demand_max = demand.max(axis=1)
    cust = np.empty(m, dtype=np.int64)
    prod = np.empty(m, dtype=np.int64)
    days = np.empty(m, dtype=np.int64)
    todo = np.arange(m)
    # P(customer, product, day) is proportional to spend x popularity x seasonality x the demand
    # response to that week's price (the planted elasticity). Days come from the inverse CDF of
    # the day weights within the customer's window; only the price response needs rejection.
    for _ in range(500):
        if len(todo) == 0:
            break
        k = len(todo)
        c = _pick_cum(rng, cust_cum, k)
        p = _pick_cum(rng, pop_cum, k)
        lo, hi = day_cum[world.window_start[c]], day_cum[world.window_end[c]]
        d = _bin_of(day_cum, lo + rng.random(k) * (hi - lo))
        d = np.clip(d, world.window_start[c], world.window_end[c] - 1)
        ok = rng.random(k) * demand_max[p] < demand[p, d // 7]
        done = todo[ok]
        cust[done], prod[done], days[done] = c[ok], p[ok], d[ok]
        todo = todo[~ok]
    if len(todo):
        raise RuntimeError("order sampling did not converge; check the price factors")
    start_ord = cfg.start_date.toordinal() - EPOCH.toordinal()
    pf = world.price_factor[prod, days // 7]
    unit_price = np.round(world.list_price[prod] * pf, 2)
    quantity = 1 + np.minimum(rng.poisson(0.6, m), 4)
    discount = np.where(rng.random(m) < 0.7, 0.0, rng.choice([0.05, 0.1, 0.15, 0.2, 0.25], m))
    ts = _timestamps(rng, days, start_ord, 14.0)
    return pl.DataFrame(
        {
            "order_id": _ids("O", offset + 1, m, 10),
            "customer_id": world.customer_ids.gather(cust),
            "product_id": world.product_ids.gather(prod),
            "quantity": quantity.astype(np.int64),
            "unit_price": unit_price,
            "discount": discount,
            "order_ts": pl.Series(ts).cast(pl.Datetime("us")),
            "channel": _labels(
                ["web", "mobile", "store", "partner"],
                _weighted_pick(rng, np.asarray([0.5, 0.3, 0.15, 0.05]), m),
            ),
            "status": _labels(
                ["completed", "returned", "cancelled"],
                _weighted_pick(rng, np.asarray([0.9, 0.06, 0.04]), m),
            ),
        }
    )


def _tickets_chunk(job: ChunkJob) -> pl.DataFrame:
    cfg, rng, world, cust_cum, offset, m = job
    cust = _pick_cum(rng, cust_cum, m)
    days = _draw_days(rng, cust, world, lambda w, d: np.ones(len(w)))
    start_ord = cfg.start_date.toordinal() - EPOCH.toordinal()
    opened = _timestamps(rng, days, start_ord, 11.0)
    prio_idx = _weighted_pick(rng, np.asarray([0.35, 0.4, 0.2, 0.05]), m)
    res_hours = rng.lognormal(np.log(np.asarray([48.0, 24.0, 8.0, 3.0])[prio_idx]), 0.8)
    closed = opened + (res_hours * 3600 * 1e6).astype(np.int64)
    still_open = (rng.random(m) < 0.04) | (closed >= (start_ord + cfg.span_days) * US_PER_DAY)
    sat = np.clip(np.round(5.2 - 0.45 * np.log1p(res_hours) + rng.normal(0, 0.7, m)), 1, 5)
    return (
        pl.DataFrame(
            {
                "ticket_id": _ids("T", offset + 1, m, 9),
                "customer_id": world.customer_ids.gather(cust),
                "opened_ts": pl.Series(opened).cast(pl.Datetime("us")),
                "closed_ts": pl.Series(np.where(still_open, 0, closed)).cast(pl.Datetime("us")),
                "still_open": still_open,
                "priority": _labels(["low", "medium", "high", "urgent"], prio_idx),
                "category": np.asarray(
                    ["billing", "technical", "account", "feature_request", "shipping"]
                )[_weighted_pick(rng, np.asarray([0.25, 0.35, 0.15, 0.15, 0.1]), m)],
                "satisfaction": sat.astype(np.int64),
            }
        )
        .with_columns(
            pl.when(pl.col("still_open"))
            .then(None)
            .otherwise(pl.col("closed_ts"))
            .alias("closed_ts"),
            pl.when(pl.col("still_open"))
            .then(None)
            .otherwise(pl.col("satisfaction"))
            .alias("satisfaction"),
        )
        .drop("still_open")
    )


def _events_chunk(job: ChunkJob) -> pl.DataFrame:
    cfg, rng, world, cust_cum, offset, m = job
    cust = _pick_cum(rng, cust_cum, m)

    def fading(who: np.ndarray, day: np.ndarray) -> np.ndarray:
        # Churners' usage fades over their last 60 active days.
        left = (world.window_end[who] - day) / 60.0
        return np.where(world.churner[who], np.clip(left, 0.05, 1.0), 1.0)

    days = _draw_days(rng, cust, world, fading)
    start_ord = cfg.start_date.toordinal() - EPOCH.toordinal()
    features = [
        "dashboard",
        "reports",
        "export",
        "api",
        "alerts",
        "search",
        "integrations",
        "billing",
    ]
    return pl.DataFrame(
        {
            "event_id": _ids("E", offset + 1, m, 10),
            "customer_id": world.customer_ids.gather(cust),
            "event_ts": pl.Series(_timestamps(rng, days, start_ord, 13.0)).cast(pl.Datetime("us")),
            "feature": _labels(
                features,
                _weighted_pick(rng, np.asarray([0.3, 0.15, 0.08, 0.12, 0.1, 0.15, 0.06, 0.04]), m),
            ),
            # Sessions time out after 10 minutes, so natural durations stay under 600 s.
            "duration_s": np.round(np.clip(rng.lognormal(5.3, 0.45, m), 1.0, 600.0), 1),
            "device": _labels(
                ["web", "ios", "android", "desktop"],
                _weighted_pick(rng, np.asarray([0.45, 0.2, 0.2, 0.15]), m),
            ),
        }
    )


# Chunks are built on this many threads: NumPy's samplers and Polars release the GIL, so two
# chunks (or one chunk and the previous one's write) overlap on the two cores. Each chunk has its
# own seed, so the output does not depend on which thread built it.
GENERATOR_THREADS = 2


def _in_order(
    pool: ThreadPoolExecutor, jobs: list[Callable[[], pl.DataFrame]]
) -> Iterator[pl.DataFrame]:
    """Each job's frame, in order, with at most ``GENERATOR_THREADS`` built ahead (memory)."""
    pending: list[Future[pl.DataFrame]] = []
    for job in jobs:
        pending.append(pool.submit(job))
        if len(pending) > GENERATOR_THREADS:
            yield pending.pop(0).result()
    for f in pending:
        yield f.result()


def _chunk_sizes(n: int, chunk_rows: int) -> list[int]:
    """The row counts of the chunks ``n`` rows are made in (one chunk, maybe empty, at least)."""
    return [min(chunk_rows, n - lo) for lo in range(0, n, chunk_rows)] or [0]


def generate_dataset(
    out_dir: Path,
    cfg: GeneratorConfig,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Write all five entities under ``out_dir/<entity>/`` plus ``manifest.json`` and the defect
    labels (``defects.parquet``: entity, kind, column, key); return the manifest."""
    out_dir = Path(out_dir)
    seeds = np.random.SeedSequence(cfg.seed).spawn(8)
    rng_world = np.random.default_rng(seeds[0])
    customers, latent = _customers(cfg, np.random.default_rng(seeds[1]))
    products, plat = _products(cfg, np.random.default_rng(seeds[2]))
    day_weight, anomalies = _day_weights(cfg, rng_world)
    world = _World(
        customer_ids=customers.ids,
        plan_idx=latent["plan_idx"],
        window_start=latent["window_start"],
        window_end=latent["window_end"],
        churner=latent["churner"],
        spend_w=latent["spend_w"],
        usage_w=latent["usage_w"],
        support_w=latent["support_w"],
        product_ids=products["product_id"],
        list_price=plat["list_price"],
        product_category=plat["category"],
        product_pop=plat["popularity"],
        price_factor=plat["price_factor"],
        day_weight=day_weight,
        anomalies=anomalies,
        elasticity=plat["elasticity"],
    )
    injector = defects_mod.DefectInjector(
        cfg.defect_rates,
        text_format=cfg.fmt not in ("parquet",),
        seed=cfg.seed,
        n_customers=cfg.customers,
        n_products=cfg.n_products,
        list_price=dict(
            zip(products["product_id"].to_list(), plat["list_price"].tolist(), strict=True)
        ),
    )
    # The rows written, planted duplicates included, so progress ends at exactly 100%.
    sizes = {
        "customers": _chunk_sizes(cfg.customers, cfg.chunk_rows),
        "products": [cfg.n_products],
        "orders": _chunk_sizes(cfg.orders, cfg.chunk_rows),
        "support_tickets": _chunk_sizes(cfg.n_tickets, cfg.chunk_rows),
        "usage_events": _chunk_sizes(cfg.n_events, cfg.chunk_rows),
    }
    total = sum(injector.rows_out(e, n) for e, chunks in sizes.items() for n in chunks)
    bar = _Progress(total, progress)
    files: dict[str, list[str]] = {e: [] for e in ENTITIES}
    rows: dict[str, int] = dict.fromkeys(ENTITIES, 0)

    # The defect labels go to a Parquet file a chunk at a time: as JSON in the manifest, the
    # ~1M labels of 50M orders took 1.4 GB to write (the generator's peak at `xl` 3.3 GB).
    with ParquetAppender(out_dir / DEFECTS_FILE, defects_mod.LABEL_SCHEMA) as labels:

        def emit(entity: str, frame: pl.DataFrame, chunk: int, rng: np.random.Generator) -> None:
            frame = injector.inject(entity, frame, rng)
            path = out_dir / entity / f"{entity}-{chunk:05d}.{cfg.fmt}"
            write_frame(frame, path, cfg.fmt)
            labels.append(injector.drain())
            files[entity].append(str(path.relative_to(out_dir)))
            rows[entity] += frame.height
            bar.advance(frame.height)

        # Customers are written in chunks like the rest (the first with the seed one chunk
        # always had, so tables of up to ``chunk_rows`` customers are as before).
        customer_chunks = max(1, math.ceil(cfg.customers / cfg.chunk_rows))
        more_seeds = seeds[7].spawn(customer_chunks - 1)
        for i in range(customer_chunks):
            lo = i * cfg.chunk_rows
            seed = seeds[3] if i == 0 else more_seeds[i - 1]
            frame = customers.frame(lo, min(lo + cfg.chunk_rows, cfg.customers))
            emit("customers", frame, i, np.random.default_rng(seed))
        emit("products", products, 0, np.random.default_rng(seeds[3].spawn(1)[0]))
        makers = {
            "orders": (cfg.orders, _orders_chunk, seeds[4]),
            "support_tickets": (cfg.n_tickets, _tickets_chunk, seeds[5]),
            "usage_events": (cfg.n_events, _events_chunk, seeds[6]),
        }
        with ThreadPoolExecutor(max_workers=GENERATOR_THREADS) as pool:
            for entity, (n, make, seed) in makers.items():
                chunk_seeds = seed.spawn(math.ceil(n / cfg.chunk_rows))
                cust_cum = CUSTOMER_WEIGHTS[entity](world)
                rngs = [[np.random.default_rng(s) for s in cs.spawn(2)] for cs in chunk_seeds]
                jobs = []
                for i, (gen_rng, _) in enumerate(rngs):
                    start = i * cfg.chunk_rows
                    size = min(cfg.chunk_rows, n - start)
                    jobs.append(partial(make, ChunkJob(cfg, gen_rng, world, cust_cum, start, size)))
                for i, frame in enumerate(_in_order(pool, jobs)):
                    emit(entity, frame, i, rngs[i][1])

    manifest = {
        "seed": cfg.seed,
        "config": {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(cfg).items()
        },
        "format": cfg.fmt,
        "row_counts": rows,
        "files": files,
        "defect_counts": injector.counts(),
        "defects_file": DEFECTS_FILE,
        "planted": _planted(cfg, world),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return manifest


def _planted(cfg: GeneratorConfig, world: _World) -> dict[str, Any]:
    return {
        "churn": {
            "model": "logit(p_churn) = intercept + plan_effect + support_coef * z(support) "
            "+ usage_coef * z(log usage); churners' usage fades over their last 60 days",
            "intercept": CHURN_INTERCEPT,
            "plan_effect": CHURN_PLAN_EFFECT,
            "support_coef": CHURN_SUPPORT_COEF,
            "usage_coef": CHURN_USAGE_COEF,
            "drivers": ["plan_type", "support_tickets", "usage_events"],
            "churner_share": round(float(world.churner.mean()), 4),
        },
        "price_elasticity": {c: v[2] for c, v in CATEGORIES.items()},
        "order_volume": {
            "trend_per_year": TREND_PER_YEAR,
            "weekday_effect": dict(
                zip(["mon", "tue", "wed", "thu", "fri", "sat", "sun"], WEEKDAY_EFFECT, strict=True)
            ),
            "yearly_amplitude": YEARLY_AMPLITUDE,
            "yearly_peak_day_of_year": YEARLY_PEAK_DAY_OF_YEAR,
        },
        "daily_revenue_anomalies": world.anomalies,
    }
