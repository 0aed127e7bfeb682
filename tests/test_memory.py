"""DuckDB's memory is capped by a setting, for the server and the commands."""

from pathlib import Path

import pytest

from adstats.settings import Settings, SettingsError
from adstats.storage.open import open_store


def duckdb_limit(path: Path, megabytes: int) -> str:
    store = open_store(str(path), megabytes)
    try:
        con = store._con  # type: ignore[attr-defined]
        return str(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])
    finally:
        store.close()


def test_the_limit_reaches_duckdb(tmp_path: Path) -> None:
    assert duckdb_limit(tmp_path / "a.duckdb", 300) == "300.0 MiB"
    assert duckdb_limit(tmp_path / "b.duckdb", Settings().memory_limit_mb) == "1.0 GiB"


def test_the_limit_is_read_from_the_environment() -> None:
    settings = Settings.from_env({"ADSTATS_MEMORY_LIMIT_MB": "2048"})

    assert settings.memory_limit_mb == 2048


@pytest.mark.parametrize("raw", ["64", "lots", "-1"])
def test_a_bad_limit_names_the_variable(raw: str) -> None:
    with pytest.raises(SettingsError, match="ADSTATS_MEMORY_LIMIT_MB"):
        Settings.from_env({"ADSTATS_MEMORY_LIMIT_MB": raw})


def test_the_chunk_size_is_read_from_the_environment() -> None:
    assert Settings.from_env({}).ingest_chunk_mb == 128
    assert Settings.from_env({"ADSTATS_INGEST_CHUNK_MB": "16"}).ingest_chunk_mb == 16
    with pytest.raises(SettingsError, match="ADSTATS_INGEST_CHUNK_MB"):
        Settings.from_env({"ADSTATS_INGEST_CHUNK_MB": "300"})
