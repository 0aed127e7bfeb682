"""The HTTP API (SPEC section 6), read-only but for POST /ingest.

Routes parse parameters, check the key, and ask the query layer; they never
compute a number or write SQL themselves.
"""
