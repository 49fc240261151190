"""The Dagster code location for the data-quality and insights pipeline."""

from pipeline_defs.definitions import build_definitions, defs

__all__ = ["build_definitions", "defs"]
