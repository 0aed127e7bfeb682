"""Settings: one typed object, read from the environment once, at start.

Command-line flags override it. A bad value stops the start with a message
that names the variable and what it takes.
"""

import os
from collections.abc import Mapping
from dataclasses import dataclass

from adstats.errors import UserError

DEFAULT_DB = "adstats.duckdb"


class SettingsError(UserError):
    code = "bad_setting"


@dataclass(frozen=True)
class Settings:
    db: str = DEFAULT_DB
    host: str = "127.0.0.1"
    port: int = 8000
    ingest_token: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    slow_query_ms: int = 500
    log_level: str = "INFO"
    rate_limit: int = 10
    rate_burst: int = 20
    # DuckDB's own memory; the key filters of deduplication come on top (two
    # to three bytes per stored event).
    memory_limit_mb: int = 1024
    # Bigger chunks read the stored keys less often; smaller ones hold less.
    ingest_chunk_mb: int = 128

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> "Settings":
        env = os.environ if env is None else env
        return cls(
            db=env.get("ADSTATS_DB") or DEFAULT_DB,
            host=env.get("ADSTATS_HOST") or cls.host,
            port=_integer(env, "ADSTATS_PORT", cls.port, 1, 65535),
            ingest_token=_token(env),
            max_body_bytes=_integer(
                env, "ADSTATS_MAX_BODY_BYTES", cls.max_body_bytes, 1024, 2**31
            ),
            slow_query_ms=_integer(
                env, "ADSTATS_SLOW_QUERY_MS", cls.slow_query_ms, 1, 10**7
            ),
            log_level=_log_level(env),
            rate_limit=_integer(env, "ADSTATS_RATE_LIMIT", cls.rate_limit, 0, 10**6),
            rate_burst=_integer(env, "ADSTATS_RATE_BURST", cls.rate_burst, 1, 10**6),
            memory_limit_mb=_integer(
                env, "ADSTATS_MEMORY_LIMIT_MB", cls.memory_limit_mb, 128, 10**7
            ),
            ingest_chunk_mb=_integer(
                env, "ADSTATS_INGEST_CHUNK_MB", cls.ingest_chunk_mb, 1, 240
            ),
        )


def _integer(
    env: Mapping[str, str], name: str, default: int, low: int, high: int
) -> int:
    raw = env.get(name)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number, not {raw!r}") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}, not {value}")
    return value


def _token(env: Mapping[str, str]) -> str | None:
    token = env.get("ADSTATS_INGEST_TOKEN") or None
    if token is not None and len(token) < 16:
        # The value itself is never repeated: it is a secret.
        raise SettingsError("ADSTATS_INGEST_TOKEN must be at least 16 characters long")
    return token


def _log_level(env: Mapping[str, str]) -> str:
    level = (env.get("ADSTATS_LOG_LEVEL") or "INFO").upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(
            f"ADSTATS_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, not {level!r}"
        )
    return level
