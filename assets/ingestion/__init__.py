"""Ingestion: landing-zone files, S3, PostgreSQL and REST API sources into the raw lake tables."""
