"""Storage backends behind one narrow contract (storage.base.Store).

The API and the ingestion pipeline only ever talk to a Store; each engine lives
in its own folder with the same files (schema, writer, reader, store).
"""
