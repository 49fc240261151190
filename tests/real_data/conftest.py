"""Each set is ingested and validated once per test process, from both landing variants."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.real_data.corpus import VARIANTS, SetRun, run_set

RunsOf = Callable[[str], dict[str, SetRun]]


@pytest.fixture(scope="session")
def runs_of(tmp_path_factory: pytest.TempPathFactory) -> RunsOf:
    """``runs_of(set)``: that set's run per landing variant, made on first use."""
    cache: dict[str, dict[str, SetRun]] = {}

    def get(set_name: str) -> dict[str, SetRun]:
        if set_name not in cache:
            cache[set_name] = {
                v: run_set(set_name, v, tmp_path_factory.mktemp(f"{set_name}-{v}"))
                for v in VARIANTS
            }
        return cache[set_name]

    return get
