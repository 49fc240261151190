"""Enrichment: validated entities joined with each other and with time and geography."""
