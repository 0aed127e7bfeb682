"""DuckDBStore: the Store contract on an embedded DuckDB file.

DuckDB lets one process open a file for writing. That process serializes its
own writes behind a lock; reads run concurrently on per-thread cursors, each
seeing the last committed state.
"""

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from adstats.domain.catalog import (
    Account,
    Advertiser,
    Campaign,
    Catalog,
    Content,
    Creative,
    Entity,
    Insertion,
)
from adstats.errors import DatabaseBusy, StaleCatalog, StorageError
from adstats.ingest.report import IngestReport
from adstats.settings import Settings
from adstats.storage.base import (
    ApiKeyRecord,
    CatalogState,
    StatsRequest,
    Store,
    stats_schema,
)
from adstats.storage.duckdb import reader, writer
from adstats.storage.duckdb.schema import MEASURES, SCHEMA_VERSION, STATEMENTS, scalar
from adstats.storage.duckdb.seen import Hashes, KeyFilter

log = logging.getLogger(__name__)

_ENTITY_TABLES: dict[type, tuple[str, tuple[str, ...]]] = {
    Account: ("accounts", ("id", "name", "currency", "timezone")),
    Advertiser: ("advertisers", ("id", "account_id", "name")),
    Campaign: (
        "campaigns",
        ("id", "account_id", "advertiser_id", "name", "budget_nanos"),
    ),
    Insertion: (
        "insertions",
        ("id", "campaign_id", "name", "pricing_model", "price_nanos", "budget_nanos"),
    ),
    Content: ("contents", ("id", "name")),
    Creative: ("creatives", ("id", "account_id", "name", "format")),
}

# Compaction merges the rows batches appended once they reach this many, or a
# fifth of the merged rows, whichever is larger.
COMPACT_MIN_ROWS = 200_000
# Statistics are read by batches of this many rows: enough for Arrow's work on
# a batch to dwarf its fixed cost, few enough to start sending early.
_FETCH_ROWS = 8192
_FEW_ROWS = 512  # below this, rows are cheaper read as Python tuples

_DUCKDB_MAGIC = b"DUCK"  # bytes 8 to 12 of every DuckDB database file


def open_duckdb(path: str, *, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Opens the file, turning DuckDB's lock error into DatabaseBusy."""
    _check_location(path)
    try:
        return duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise DatabaseBusy(
                f"the database {path} is in use by another process"
            ) from exc
        raise StorageError(f"cannot open the database {path}: {exc}") from exc


def _halves(
    con: duckdb.DuckDBPyConnection, table: str
) -> Iterator[tuple[Hashes, Hashes]]:
    """The stored 128-bit hashes of a key table, as high and low halves, a
    million at a time."""
    reader = con.sql(
        f"""SELECT (h >> 64)::UBIGINT AS high, (h & {(1 << 64) - 1})::UBIGINT AS low
            FROM {table}"""
    ).to_arrow_reader(1_000_000)
    for batch in reader:
        yield batch["high"].to_numpy(), batch["low"].to_numpy()


def is_duckdb_file(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(12)[8:12] == _DUCKDB_MAGIC


def _check_location(path: str) -> None:
    """Refuses what DuckDB would open as something else: it reads a JSON or
    CSV file as a database that vanishes on exit, which would lose all work."""
    if path == ":memory:":
        return
    location = Path(path)
    if not location.parent.is_dir():
        raise StorageError(f"--db {path}: the folder {location.parent} does not exist")
    if location.is_dir():
        raise StorageError(f"--db {path} is a folder; name a database file")
    if (
        location.is_file()
        and location.stat().st_size > 0
        and not is_duckdb_file(location)
    ):
        raise StorageError(
            f"--db {path} exists and is not a DuckDB database; name a new file "
            "or an adstats database"
        )


class DuckDBStore(Store):
    def __init__(
        self, path: str, memory_limit_mb: int = Settings.memory_limit_mb
    ) -> None:
        self.path = path
        # This process is the only writer, so a counter in memory is exact.
        self._data_version = 0
        self._con = open_duckdb(path)
        self._con.execute("SET TimeZone = 'UTC'")
        # Without a limit DuckDB keeps up to 80% of the machine's memory in
        # its buffers; past the limit it reads again or spills to disk.
        self._con.execute(f"SET memory_limit = '{int(memory_limit_mb)}MiB'")
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._create_schema()
        self._state = self._load_catalog_state()
        self._appended_rows = 0
        self._merged_rows = self._count("daily")
        self._key_filters: dict[str, KeyFilter] = {}

    # -- plumbing -------------------------------------------------------------

    def _create_schema(self) -> None:
        with self._transaction() as con:
            for statement in STATEMENTS:
                con.execute(statement)
            con.execute(
                "INSERT INTO meta VALUES ('schema_version', $v) ON CONFLICT DO NOTHING",
                {"v": str(SCHEMA_VERSION)},
            )
            _rank_ids(con)
        stored = self._meta("schema_version")
        if stored != str(SCHEMA_VERSION):
            raise StorageError(
                f"the database has schema version {stored}; this adstats reads "
                f"version {SCHEMA_VERSION}"
            )

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        cursor: duckdb.DuckDBPyConnection | None = getattr(self._local, "cursor", None)
        if cursor is None:
            cursor = self._con.cursor()
            self._local.cursor = cursor
        return cursor

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with self._write_lock:
            con = self._con
            con.execute("BEGIN TRANSACTION")
            try:
                yield con
            except BaseException as exc:
                con.execute("ROLLBACK")
                if isinstance(exc, duckdb.Error):
                    raise StorageError(_storage_message(exc)) from exc
                raise
            try:
                con.execute("COMMIT")
            except duckdb.Error as exc:  # DuckDB rolls a failed commit back itself
                raise StorageError(_storage_message(exc)) from exc
            # After the commit: a reader that sees the new number sees the data.
            self._data_version += 1

    def _meta(self, name: str) -> str | None:
        value = scalar(
            self._cursor(), "SELECT value FROM meta WHERE name = $n", {"n": name}
        )
        return None if value is None else str(value)

    def _count(self, table: str) -> int:
        return int(scalar(self._cursor(), f"SELECT count(*) FROM {table}"))

    # -- catalog --------------------------------------------------------------

    def catalog_state(self) -> CatalogState:
        return self._state

    def data_version(self) -> int:
        return self._data_version

    def _load_catalog_state(self) -> CatalogState:
        con = self._cursor()
        catalog = Catalog.empty()
        keys: dict[str, int] = {}
        for entity_type, (table, columns) in _ENTITY_TABLES.items():
            rows = con.execute(
                f"SELECT key, {', '.join(columns)} FROM {table}"
            ).fetchall()
            target: dict[str, Any] = getattr(catalog, table)
            for key, *values in rows:
                item = entity_type(*values)
                target[item.id] = item
                keys[item.id] = int(key)
        version = int(self._meta("catalog_version") or 0)
        self._ids = {key: entity_id for entity_id, key in keys.items()}
        return CatalogState(catalog, keys, version)

    def save_catalog(self, changed: Sequence[Entity]) -> None:
        with self._transaction() as con:
            next_key = max(self._state.keys.values(), default=0) + 1
            for item in changed:
                table, columns = _ENTITY_TABLES[type(item)]
                key = self._state.keys.get(item.id)
                if key is None:
                    key, next_key = next_key, next_key + 1
                values = [getattr(item, c) for c in columns]
                updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
                con.execute(
                    f"""INSERT INTO {table} (key, {", ".join(columns)})
                        VALUES ({", ".join("?" * (len(columns) + 1))})
                        ON CONFLICT (id) DO UPDATE SET {updates}""",
                    [key, *values],
                )
            _rank_ids(con)
            con.execute(
                """INSERT INTO meta VALUES ('catalog_version', $v)
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
                {"v": str(self._state.version + 1)},
            )
        self._state = self._load_catalog_state()
        self._data_version += 1  # again: names read before this line are stale

    # -- events ---------------------------------------------------------------

    def apply_events(self, events: pa.Table, state: CatalogState) -> IngestReport:
        with self._transaction() as con:
            if state.version != self._state.version:
                raise StaleCatalog("the catalog changed while the batch was checked")
            seen = writer.SeenKeys(
                self._key_filter(con, "event_keys"),
                self._key_filter(con, "impression_keys"),
            )
            report, appended = writer.apply_events(con, events, state, seen)
        self._appended_rows += appended
        if self._appended_rows > max(COMPACT_MIN_ROWS, self._merged_rows // 5):
            self._compact_quietly()
        return report

    def _key_filter(self, con: duckdb.DuckDBPyConnection, table: str) -> KeyFilter:
        """The filter over a table of stored keys, made on first use (about a
        second per 30 million keys) and made again bigger when full."""
        kept = self._key_filters.get(table)
        if kept is None or kept.full:
            started = time.monotonic()
            stored = int(scalar(con, f"SELECT count(*) FROM {table}"))
            kept = KeyFilter.of(stored, _halves(con, table))
            self._key_filters[table] = kept
            log.info(
                "key filter for %s: %d keys, %d MiB, made in %.1f s",
                table,
                kept.count,
                kept.size_bytes >> 20,
                time.monotonic() - started,
            )
        return kept

    def _compact_quietly(self) -> None:
        """Compaction is upkeep: the batch is committed whatever happens here,
        so a failure is logged for the operator, never reported as the batch's."""
        try:
            self.compact()
        except StorageError as exc:
            log.warning("rollup compaction failed, will retry later: %s", exc)

    # -- statistics -------------------------------------------------------------

    def stats(self, request: StatsRequest) -> Iterator[pa.RecordBatch]:
        # A cursor of its own: the batches may be read over many calls, from
        # whichever thread serves the answer next.
        cursor = self._con.cursor()
        ids = self._ids
        in_id_order = sorted(set(request.campaign_keys), key=lambda key: ids[key])
        sql = reader.stats_sql(request, in_id_order)
        try:
            most = reader.most_rows(request)
            if most is not None and most <= _FEW_ROWS:
                # DuckDB's Arrow reader plans its query twice (about 1.5 ms),
                # more than a few hundred rows cost read as tuples.
                rows = cursor.execute(sql).fetchall()
                if rows:
                    yield _batch_of(rows, stats_schema(request))
            else:
                yield from cursor.sql(sql).to_arrow_reader(_FETCH_ROWS)
        finally:
            cursor.close()

    def active_campaigns(
        self, campaign_keys: Sequence[int], date_from: date, date_to: date
    ) -> set[int]:
        sql = reader.active_campaigns_sql(campaign_keys, date_from, date_to)
        return {int(row[0]) for row in self._cursor().execute(sql).fetchall()}

    # -- API keys -------------------------------------------------------------

    def save_api_key(self, record: ApiKeyRecord) -> None:
        with self._transaction() as con:
            con.execute(
                "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    record.key_id, record.account_id, record.name, record.description,
                    record.created_at, record.expires_in_days, record.revoked_at,
                    record.last_used_at, record.secret_hash,
                ],
            )  # fmt: skip

    def api_keys(self, account_id: str | None = None) -> list[ApiKeyRecord]:
        rows = (
            self._cursor()
            .execute(
                """SELECT key_id, account_id, name, description, created_at,
                      expires_in_days, revoked_at, last_used_at, secret_hash
               FROM api_keys WHERE $account IS NULL OR account_id = $account
               ORDER BY created_at, key_id""",
                {"account": account_id},
            )
            .fetchall()
        )
        return [ApiKeyRecord(*row) for row in rows]

    def revoke_api_key(self, key_id: str, when: datetime) -> bool:
        with self._transaction() as con:
            rows = con.execute(
                """UPDATE api_keys SET revoked_at = coalesce(revoked_at, $when)
                   WHERE key_id = $key_id RETURNING key_id""",
                {"when": when, "key_id": key_id},
            ).fetchall()
        return bool(rows)

    def touch_api_keys(self, last_used: dict[str, datetime]) -> None:
        with self._transaction() as con:
            for key_id, when in last_used.items():
                con.execute(
                    """UPDATE api_keys SET last_used_at = greatest(last_used_at, $when)
                       WHERE key_id = $key_id""",
                    {"when": when, "key_id": key_id},
                )

    # -- labels ---------------------------------------------------------------

    def set_label(self, name: str, value: str) -> None:
        with self._transaction() as con:
            con.execute(
                """INSERT INTO meta VALUES ('label:' || $n, $v)
                   ON CONFLICT (name) DO UPDATE SET value = excluded.value""",
                {"n": name, "v": value},
            )

    def label(self, name: str) -> str | None:
        return self._meta(f"label:{name}")

    # -- upkeep ---------------------------------------------------------------

    def compact(self) -> None:
        with self._transaction() as con:
            for table, keys in (
                (
                    "daily",
                    "day, campaign_key, insertion_key, content_key, creative_key",
                ),
                ("campaign_daily", "day, campaign_key"),
            ):
                _merge(con, table, keys)
            con.execute(
                """CREATE OR REPLACE TEMP TABLE spend_merged AS
                   SELECT insertion_key, sum(spent_nanos)::HUGEINT FROM spend GROUP BY ALL"""
            )
            con.execute("DELETE FROM spend")
            con.execute("INSERT INTO spend SELECT * FROM spend_merged")
        self._merged_rows = self._count("daily")
        self._appended_rows = 0
        log.info("compacted rollups: %d rows", self._merged_rows)

    def close(self) -> None:
        with self._write_lock:
            self._con.close()


def _batch_of(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.RecordBatch:
    columns = zip(*rows, strict=True)
    arrays = [
        pa.array(values, field.type)
        for values, field in zip(columns, schema, strict=True)
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _storage_message(exc: duckdb.Error) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    if "too large" in text.lower() or "no space" in text.lower():
        return f"the database cannot grow (disk full or file size limit): {text}"
    return f"the database failed: {text}"


def _rank_ids(con: duckdb.DuckDBPyConnection) -> None:
    tables = (
        "accounts",
        "advertisers",
        "campaigns",
        "insertions",
        "contents",
        "creatives",
    )
    union = " UNION ALL ".join(f"SELECT key, id FROM {table}" for table in tables)
    con.execute("DELETE FROM id_ranks")
    con.execute(
        f"INSERT INTO id_ranks SELECT key, row_number() OVER (ORDER BY id) FROM ({union})"
    )


def _merge(con: duckdb.DuckDBPyConnection, table: str, keys: str) -> None:
    sums = ", ".join(f"sum({column})::{_type(column)}" for column in MEASURES)
    order = keys.replace("day, campaign_key", "campaign_key, day")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table}_merged AS
            SELECT {keys}, {sums} FROM {table} GROUP BY ALL ORDER BY {order}"""
    )
    con.execute(f"DELETE FROM {table}")
    con.execute(f"INSERT INTO {table} SELECT * FROM {table}_merged")
    con.execute(f"DROP TABLE {table}_merged")


def _type(column: str) -> str:
    return "HUGEINT" if column == "spent_nanos" else "BIGINT"
