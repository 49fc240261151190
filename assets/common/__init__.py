"""Helpers shared by every stage's wiring."""
