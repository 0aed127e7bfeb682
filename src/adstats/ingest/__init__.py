"""Ingestion: NDJSON lines in, a checked batch of events and a report out.

Both doors (the `adstats ingest` command and `POST /ingest`) feed the same
pipeline: lines are parsed and checked here, then applied by the storage
backend in one transaction per batch.
"""
