"""The demo: run a job as the UI would and tell what happened (``python3 tasks.py demo``)."""
