"""Seeded synthetic data: five related entities with planted effects and labelled defects."""

from assets.ingestion.generator.core import GeneratorConfig, generate_dataset

__all__ = ["GeneratorConfig", "generate_dataset"]
