"""Seeded synthetic data: five related entities with planted effects and labelled defects."""

from assets.generator.core import GeneratorConfig, generate_dataset

__all__ = ["GeneratorConfig", "generate_dataset"]
