"""Tables of the DuckDB backend, and their creation.

Counted events are not stored one by one. What is kept per event is a 128-bit
hash of its id (to spot a replay) and, for once-per-impression types, of its
impression and type; everything the API answers comes from two rollups:

- `daily`: one row per day, campaign, insertion, content and creative;
- `campaign_daily`: one row per day and campaign, for the answers without a
  breakdown, the most frequent ones.

Each ingested batch appends its partial sums to both; queries add rows up, so
several rows for one key are fine, and compaction merges them and sorts by
campaign and day so a campaign's rows sit in a few row groups.
"""

from typing import Any

import duckdb

from adstats.domain.events import EVENT_TYPES

SCHEMA_VERSION = 1

COUNTER_COLUMNS: tuple[str, ...] = tuple(f"n_{name}" for name in EVENT_TYPES)
MEASURES: tuple[str, ...] = (*COUNTER_COLUMNS, "billables", "spent_nanos")

_COUNTERS_DDL = ",\n    ".join(
    f"{column} BIGINT NOT NULL" for column in COUNTER_COLUMNS
)

STATEMENTS = (
    "CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value VARCHAR)",
    """CREATE TABLE IF NOT EXISTS accounts (
        id VARCHAR PRIMARY KEY, key INTEGER NOT NULL, name VARCHAR NOT NULL,
        currency VARCHAR NOT NULL, timezone VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS advertisers (
        id VARCHAR PRIMARY KEY, key INTEGER NOT NULL, account_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS campaigns (
        id VARCHAR PRIMARY KEY, key INTEGER NOT NULL, account_id VARCHAR NOT NULL,
        advertiser_id VARCHAR NOT NULL, name VARCHAR NOT NULL, budget_nanos HUGEINT)""",
    """CREATE TABLE IF NOT EXISTS insertions (
        id VARCHAR PRIMARY KEY, key INTEGER NOT NULL, campaign_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL, pricing_model VARCHAR NOT NULL,
        price_nanos HUGEINT NOT NULL, budget_nanos HUGEINT)""",
    """CREATE TABLE IF NOT EXISTS contents (
        id VARCHAR PRIMARY KEY, key INTEGER NOT NULL, name VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS creatives (
        id VARCHAR PRIMARY KEY, key INTEGER NOT NULL, account_id VARCHAR NOT NULL,
        name VARCHAR NOT NULL, format VARCHAR NOT NULL)""",
    """CREATE TABLE IF NOT EXISTS api_keys (
        key_id VARCHAR PRIMARY KEY, account_id VARCHAR NOT NULL, name VARCHAR NOT NULL,
        description VARCHAR, created_at TIMESTAMPTZ NOT NULL, expires_in_days INTEGER,
        revoked_at TIMESTAMPTZ, last_used_at TIMESTAMPTZ, secret_hash BLOB NOT NULL)""",
    "CREATE TABLE IF NOT EXISTS event_keys (h UHUGEINT NOT NULL)",
    # Every catalog key with the rank of its id in id order, so that answers
    # can be sorted by ids inside the database and streamed.
    "CREATE TABLE IF NOT EXISTS id_ranks (key INTEGER NOT NULL, rank INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS impression_keys (h UHUGEINT NOT NULL)",
    """CREATE TABLE IF NOT EXISTS spend (
        insertion_key INTEGER NOT NULL, spent_nanos HUGEINT NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS daily (
        day DATE NOT NULL, campaign_key INTEGER NOT NULL,
        insertion_key INTEGER NOT NULL, content_key INTEGER,
        creative_key INTEGER NOT NULL,
        {_COUNTERS_DDL},
        billables BIGINT NOT NULL, spent_nanos HUGEINT NOT NULL)""",
    f"""CREATE TABLE IF NOT EXISTS campaign_daily (
        day DATE NOT NULL, campaign_key INTEGER NOT NULL,
        {_COUNTERS_DDL},
        billables BIGINT NOT NULL, spent_nanos HUGEINT NOT NULL)""",
)


def scalar(
    con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any] | None = None
) -> Any:
    """The first value of the first row, or None. Reads every row, as DuckDB
    wants a result finished before the connection does anything else."""
    rows = con.execute(sql, params or {}).fetchall()
    return rows[0][0] if rows else None
