"""Opens the store a --db location names."""

from adstats.errors import UserError
from adstats.settings import Settings
from adstats.storage.base import Store


def open_store(location: str, memory_limit_mb: int = Settings.memory_limit_mb) -> Store:
    """A DuckDB file path (the embedded default). Other engines will be named
    by a URL scheme here, such as clickhouse://, without the API changing."""
    if "://" in location:
        scheme = location.split("://", 1)[0]
        raise UserError(
            f"--db {scheme}:// is not supported yet; give a DuckDB file path"
        )
    from adstats.storage.duckdb.store import DuckDBStore

    return DuckDBStore(location, memory_limit_mb)
