"""Faker-built value pools per country, sampled vectorised by the generator.

Per-row Faker calls run at a few thousand rows per second; a pool of a few hundred values per
locale, sampled with NumPy, gives Faker-grade values at millions of rows per second.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from faker import Faker

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "core" / "reference"


def countries() -> pl.DataFrame:
    return pl.read_csv(
        REFERENCE_DIR / "countries.csv", schema_overrides={"calling_code": pl.String}
    )


def cities() -> pl.DataFrame:
    return pl.read_csv(REFERENCE_DIR / "cities.csv")


def ascii_slug(text: str) -> str:
    """Lower-case ASCII for email local parts: 'José Núñez' -> 'josenunez'."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in folded.lower() if ch.isalnum())


@dataclass(frozen=True)
class CountryPool:
    first_names: list[str]
    last_names: list[str]
    first_slugs: list[str]
    last_slugs: list[str]
    streets: list[str]
    companies: list[str]


def _faker(locale: str, seed: int) -> Faker:
    # Imported on first use, not with the module: Faker scans its locales on import (~0.3 s),
    # and every process that loads the code location imports the generator.
    from faker import Faker

    fake = Faker(locale)
    fake.seed_instance(seed)
    return fake


@lru_cache(maxsize=64)
def country_pool(locale: str, seed: int, size: int = 300) -> CountryPool:
    fake = _faker(locale, seed)
    firsts, lasts = [], []
    while len(firsts) < size:
        first, last = fake.first_name(), fake.last_name()
        # Names whose ASCII fold is empty (non-Latin scripts) cannot make an email.
        if ascii_slug(first) and ascii_slug(last):
            firsts.append(first)
            lasts.append(last)
    streets = [fake.street_address().replace("\n", ", ") for _ in range(size)]
    companies = [fake.company().replace("\n", " ") for _ in range(max(50, size // 3))]
    return CountryPool(
        first_names=firsts,
        last_names=lasts,
        first_slugs=[ascii_slug(x) for x in firsts],
        last_slugs=[ascii_slug(x) for x in lasts],
        streets=streets,
        companies=companies,
    )


@lru_cache(maxsize=4)
def occupations(seed: int, size: int = 400) -> list[str]:
    fake = _faker("en_US", seed)
    return sorted({fake.job() for _ in range(size)})


@lru_cache(maxsize=4)
def product_words(seed: int) -> tuple[list[str], list[str]]:
    fake = _faker("en_US", seed)
    adjectives = ["Classic", "Pro", "Ultra", "Eco", "Smart", "Mini", "Max", "Prime", "Lite", "Plus"]
    brands = sorted(
        {fake.last_name() + suffix for suffix in ("", " & Co", " Labs") for _ in range(20)}
    )
    return adjectives, brands
