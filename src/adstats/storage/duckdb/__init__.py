"""The embedded DuckDB backend: one file, one writing process."""
