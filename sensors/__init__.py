"""Sensors (landing zone, run failure, quality alerts) arrive with the orchestration issue."""
