"""Checks NDJSON lines against the event format and the catalog (SPEC section 2).

The checking is vectorized: lines go into an in-memory DuckDB as one column and
every rule is a SQL expression, so a million lines cost about a second rather
than the tens of seconds a Python loop would. This DuckDB is a compute engine
only; it stores nothing and is the same whatever the storage backend.
"""

import json
import threading
from dataclasses import dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from adstats.domain.events import EVENT_TYPES, MAX_FUTURE_SECONDS, MAX_ID_LENGTH
from adstats.ingest.reader import MAX_LINE_BYTES, Chunk
from adstats.ingest.report import Rejection
from adstats.keys.secrets import SECRET_PREFIX
from adstats.storage.base import CatalogState

FIELDS = (
    "id",
    "type",
    "ts",
    "impression_id",
    "campaign_id",
    "insertion_id",
    "creative_id",
    "content_id",
)

# RFC 3339 with an explicit offset; a naive time is refused, never guessed.
_RFC3339 = (
    r"\d{4}-\d{2}-\d{2}[Tt ]([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?"
    r"([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)"
)
_NAIVE = r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$"
# DuckDB's JSON reader also takes trailing commas and NaN/Infinity in any case;
# lines that might hold them are checked again by a strict parser. (Numbers
# past a double's range are valid JSON by RFC 8259's grammar, and accepted:
# an unknown field may hold one, and a known field holding one fails its own
# rule.) The pattern is spelled in the SQL: as a parameter it would be compiled
# for every line. ILIKE is several times quicker here than one regex.
_LENIENT_SQL = (
    "line ILIKE '%nan%' OR line ILIKE '%inf%' "
    r"OR regexp_matches(line, ',\s*[}\]]')"
)
_MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z

_NEWLINE = ord("\n")
_SCAN_BATCH_LINES = 32_768
_TYPE_LIST = ", ".join(EVENT_TYPES)
_ECHO_LIMIT = 48


def _shown(value: str) -> str:
    """A value quoted back in a reason: short, and never anything that looks
    like an API key (a producer may put one anywhere)."""
    return f"""CASE WHEN {value} IS NULL THEN 'null'
                    WHEN contains({value}, '{SECRET_PREFIX}')
                         OR strlen({value}) > {_ECHO_LIMIT}
                    THEN '(the value given)'
                    ELSE to_json({value})::VARCHAR END"""


def _id_rule(field: str, index: int) -> str:
    return f"""WHEN t[{index}] IS NULL OR t[{index}] = 'NULL'
            THEN 'missing {field}'
        WHEN t[{index}] <> 'VARCHAR'
             OR (strlen(v[{index}]) NOT BETWEEN 1 AND {MAX_ID_LENGTH}
                 AND length(v[{index}]) NOT BETWEEN 1 AND {MAX_ID_LENGTH})
            THEN '{field} must be a string of 1 to {MAX_ID_LENGTH} characters'"""


_CHECK_SQL = f"""
WITH fields AS (
    SELECT line_no,
           json_type(line) AS root,
           json_type(line, {list(f"$.{f}" for f in FIELDS)}) AS t,
           json_extract_string(line, {list(f"$.{f}" for f in FIELDS)}) AS v
    FROM lines
    WHERE size BETWEEN 1 AND $max AND NOT list_contains($dropped::BIGINT[], line_no)
),
typed AS (
    SELECT f.*,
           CASE WHEN t[3] = 'VARCHAR' AND regexp_full_match(v[3], '{_RFC3339}')
                    -- DuckDB reads T and Z only in upper case; most are.
                    THEN try_cast(CASE WHEN contains(v[3], 't') OR contains(v[3], 'z')
                                       THEN upper(v[3]) ELSE v[3] END AS TIMESTAMPTZ)
                WHEN t[3] IN ('BIGINT', 'UBIGINT')
                     AND try_cast(v[3] AS BIGINT) BETWEEN 0 AND {_MAX_EPOCH_MS}
                    THEN make_timestamp_ms(v[3]::BIGINT)::TIMESTAMPTZ
           END AS ts,
           et.code AS type_code,
           ins.insertion_key, ins.campaign_id AS owner_campaign, ins.campaign_key,
           ins.account_key, ins.timezone,
           cam.campaign_key AS named_campaign_key,
           cre.creative_key, cre.account_key AS creative_account_key,
           con.content_key
    FROM fields f
    LEFT JOIN event_types et ON et.name = f.v[2]
    LEFT JOIN insertions ins ON ins.insertion_id = f.v[6]
    LEFT JOIN campaigns cam ON cam.campaign_id = f.v[5]
    LEFT JOIN creatives cre ON cre.creative_id = f.v[7]
    LEFT JOIN contents con ON con.content_id = f.v[8]
),
localized AS (
    SELECT *, timezone(timezone, ts) AS local_ts FROM typed
),
judged AS (
    SELECT *,
      CASE
        WHEN root <> 'OBJECT' THEN 'an event must be a JSON object, not ' || lower(root)
        {_id_rule("id", 1)}
        WHEN t[2] IS NULL OR t[2] = 'NULL' THEN 'missing type'
        WHEN type_code IS NULL
            THEN 'unknown type ' || {_shown("v[2]")}
                 || '; expected one of: {_TYPE_LIST}'
        WHEN t[3] IS NULL OR t[3] = 'NULL' THEN 'missing ts'
        WHEN ts IS NULL AND t[3] = 'VARCHAR' AND regexp_matches(v[3], '{_NAIVE}')
            THEN 'ts ' || {_shown("v[3]")} || ' has no UTC offset; '
                 || 'add Z or an offset such as +02:00'
        WHEN ts IS NULL
            THEN 'ts ' || {_shown("v[3]")} || ' is not an '
                 || 'RFC 3339 time with offset nor integer milliseconds since the epoch'
        WHEN epoch_ms(ts) > $now_ms + {MAX_FUTURE_SECONDS * 1000}
            THEN 'ts ' || {_shown("v[3]")} || ' is more than 5 minutes in the future'
        {_id_rule("impression_id", 4)}
        WHEN t[5] IS DISTINCT FROM 'VARCHAR' THEN 'missing campaign_id'
        WHEN named_campaign_key IS NULL
            THEN 'unknown campaign_id ' || {_shown("v[5]")}
        WHEN t[6] IS DISTINCT FROM 'VARCHAR' THEN 'missing insertion_id'
        WHEN insertion_key IS NULL
            THEN 'unknown insertion_id ' || {_shown("v[6]")}
        WHEN owner_campaign <> v[5]
            THEN 'insertion_id ' || v[6] || ' belongs to campaign ' || owner_campaign
                 || ', not ' || v[5]
        WHEN t[7] IS DISTINCT FROM 'VARCHAR' THEN 'missing creative_id'
        WHEN creative_key IS NULL
            THEN 'unknown creative_id ' || {_shown("v[7]")}
        WHEN creative_account_key <> account_key
            THEN 'creative_id ' || v[7] || ' belongs to another account than campaign '
                 || v[5]
        WHEN t[8] IS NOT NULL AND t[8] NOT IN ('NULL', 'VARCHAR')
            THEN 'content_id must be a string or absent'
        WHEN t[8] = 'VARCHAR' AND content_key IS NULL
            THEN 'unknown content_id ' || {_shown("v[8]")}
        WHEN year(local_ts) NOT BETWEEN 1 AND 9999
            THEN 'ts ' || {_shown("v[3]")} || ' falls outside the years 1 to 9999 '
                 || 'in the account''s timezone'
      END AS reason
    FROM localized
)
SELECT line_no, reason, v[1] AS event_id, v[4] AS impression_id,
       type_code::UTINYINT AS type_code,
       local_ts::DATE AS day,
       campaign_key, insertion_key, creative_key, content_key
FROM judged
ORDER BY line_no
"""


@dataclass
class ParsedBatch:
    """The valid events of a chunk, in line order, and the rejected lines."""

    events: pa.Table
    rejections: list[Rejection]


class EventParser:
    """Checks chunks against one catalog state. One parser serves one thread."""

    def __init__(self) -> None:
        self._con = duckdb.connect(":memory:", config={"threads": 2})
        # UTC, so that epoch milliseconds never depend on the host's timezone.
        self._con.execute("SET TimeZone = 'UTC'")
        self._catalog_version = -1
        self._lock = threading.Lock()
        self._dropped: list[int] = []

    def parse(self, chunk: Chunk, state: CatalogState, now_ms: int) -> ParsedBatch:
        with self._lock:
            self._load_catalog(state)
            rejections = list(chunk.rejections)
            rejections += self._split_lines(chunk)
            rejections += self._strict_json_rejections()
            result = self._check(now_ms)
            # The chunk's text is not kept between chunks.
            self._con.execute("DROP TABLE lines")
        bad = result.filter(pc.invert(pc.is_null(result["reason"])))
        rejections += [
            Rejection(line, reason)
            for line, reason in zip(
                bad["line_no"].to_pylist(), bad["reason"].to_pylist(), strict=True
            )
        ]
        rejections.sort(key=lambda r: r.line)
        good = result.filter(pc.is_null(result["reason"]))
        return ParsedBatch(good.drop_columns(["reason"]), rejections)

    def _split_lines(self, chunk: Chunk) -> list[Rejection]:
        """Makes the table `lines` (line_no, line, size) of the chunk, and
        rejects the lines over the size limit. Lines are cut as slices of the
        chunk's own bytes, then copied once into DuckDB, where pattern
        matching runs about twice as fast as over Arrow strings."""
        data = np.frombuffer(chunk.data, dtype=np.uint8)
        newlines = np.flatnonzero(data == _NEWLINE)
        starts = np.concatenate(([0], newlines + 1))
        if starts[-1] == len(data):
            starts = starts[:-1]  # no line after the last newline
        ends = np.concatenate((newlines, [len(data)]))[: len(starts)]
        # Each line keeps its newline, which JSON reads as whitespace; sizes
        # leave it out.
        offsets = np.concatenate((starts, [len(data)])).astype(np.int64)
        lines = pa.LargeStringArray.from_buffers(
            len(starts), pa.py_buffer(offsets), pa.py_buffer(chunk.data)
        )
        numbers = np.arange(chunk.first_line, chunk.first_line + len(starts))
        sizes = ends - starts
        table = pa.table(
            {"line_no": pa.array(numbers), "line": lines, "size": pa.array(sizes)}
        )
        # DuckDB copies an Arrow table one batch per thread.
        batches = table.to_batches(max_chunksize=_SCAN_BATCH_LINES)
        self._con.register("lines_arrow", pa.Table.from_batches(batches, table.schema))
        self._con.execute("CREATE OR REPLACE TEMP TABLE lines AS FROM lines_arrow")
        self._con.unregister("lines_arrow")

        return [
            Rejection(
                int(numbers[i]),
                f"line is {sizes[i]} bytes long; the limit is {MAX_LINE_BYTES}",
            )
            for i in np.flatnonzero(sizes > MAX_LINE_BYTES)
        ]

    def _strict_json_rejections(self) -> list[Rejection]:
        """Rejects lines that are not strict JSON, and drops blank lines.

        Both kinds fail DuckDB's own test or look lenient, a small minority
        that is looked at line by line.
        """
        rejections = []
        dropped = []
        suspects = self._con.execute(
            f"""SELECT line_no, line, json_valid(line) FROM lines
                WHERE size BETWEEN 1 AND $max
                  AND (NOT json_valid(line) OR {_LENIENT_SQL})""",
            {"max": MAX_LINE_BYTES},
        ).fetchall()
        for line_no, line, readable in suspects:
            if not line.strip(" \t\r\n"):
                dropped.append(line_no)
                continue
            reason = _json_error(line, readable)
            if reason:
                dropped.append(line_no)
                rejections.append(Rejection(line_no, reason))
        self._dropped = dropped
        return rejections

    def _check(self, now_ms: int) -> pa.Table:
        params = {"now_ms": now_ms, "max": MAX_LINE_BYTES, "dropped": self._dropped}
        return self._con.sql(_CHECK_SQL, params=params).to_arrow_table()

    def _load_catalog(self, state: CatalogState) -> None:
        if state.version == self._catalog_version:
            return
        for name, table in _catalog_tables(state).items():
            self._con.register(f"{name}_arrow", table)
            self._con.execute(f"CREATE OR REPLACE TABLE {name} AS FROM {name}_arrow")
            self._con.unregister(f"{name}_arrow")
        self._catalog_version = state.version

    def close(self) -> None:
        self._con.close()


def _json_error(line: str, readable: bool) -> str | None:
    """Why a line is not strict JSON, or None. `readable`: whether DuckDB's
    reader takes it; one it does not is never passed on, whatever Python says."""
    try:
        json.loads(line, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        # Python says "Invalid control character at" and leaves the place to us
        return f"bad JSON: {exc.msg.removesuffix(' at')} at character {exc.pos + 1}"
    except (ValueError, RecursionError) as exc:
        return f"bad JSON: {exc}"
    return None if readable else "bad JSON: the line does not parse as one JSON value"


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON value")


def _catalog_tables(state: CatalogState) -> dict[str, pa.Table]:
    cat, key = state.catalog, state.key
    insertions = list(cat.insertions.values())
    accounts = [
        cat.accounts[cat.campaigns[i.campaign_id].account_id] for i in insertions
    ]
    return {
        "event_types": pa.table(
            {"name": list(EVENT_TYPES), "code": list(range(len(EVENT_TYPES)))}
        ),
        "insertions": pa.table(
            {
                "insertion_id": [i.id for i in insertions],
                "insertion_key": pa.array([key(i.id) for i in insertions], pa.int32()),
                "campaign_id": [i.campaign_id for i in insertions],
                "campaign_key": pa.array(
                    [key(i.campaign_id) for i in insertions], pa.int32()
                ),
                "account_key": pa.array([key(a.id) for a in accounts], pa.int32()),
                "timezone": [a.timezone for a in accounts],
            },
        ),
        "campaigns": pa.table(
            {
                "campaign_id": list(cat.campaigns),
                "campaign_key": pa.array([key(c) for c in cat.campaigns], pa.int32()),
            }
        ),
        "creatives": pa.table(
            {
                "creative_id": list(cat.creatives),
                "creative_key": pa.array([key(c) for c in cat.creatives], pa.int32()),
                "account_key": pa.array(
                    [key(c.account_id) for c in cat.creatives.values()], pa.int32()
                ),
            }
        ),
        "contents": pa.table(
            {
                "content_id": list(cat.contents),
                "content_key": pa.array([key(c) for c in cat.contents], pa.int32()),
            }
        ),
    }
