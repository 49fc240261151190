"""Validation: spec rules, pandera, blocking gates, row-level quarantine and quality history."""
