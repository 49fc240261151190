"""Cron schedules arrive with the orchestration issue."""
