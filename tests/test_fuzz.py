"""Fuzzing both doors' input parsers, deterministically and within bounds.

- The event parser, in process on a real DuckDB store: arbitrary bytes,
  arbitrary JSON values and mutated valid events never make it raise; every
  non-blank line is either a valid event or a rejection with a reason, by its
  exact line number, once; the ingestion report adds up; and each line's
  verdict is the one an independent reading of docs/INGESTION.md gives.
- The query parameters: `parse_stats_query` raises nothing but BadRequest,
  and answers what docs/API.md says; over HTTP, random query strings on every
  statistics endpoint never get a 5xx, and every 4xx has the error shape.
"""

import json
import re
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any
from urllib.parse import quote

import httpx
import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from adstats.domain.catalog import Catalog, merge_catalog
from adstats.domain.events import EVENT_TYPES, MAX_FUTURE_SECONDS, MAX_ID_LENGTH
from adstats.errors import BadRequest, CatalogError
from adstats.ingest.parse import EventParser
from adstats.ingest.reader import MAX_LINE_BYTES, chunk_of_bytes
from adstats.query.params import (
    AUTH_PARAMS,
    CAMPAIGN_BREAKDOWNS,
    FORMATS,
    MAX_RANGE_DAYS,
    RANGE_PARAMS,
    StatsQuery,
    parse_stats_query,
)
from e2e import ServerProcess, error_of, ndjson, prepare_db
from support.world import (
    A1,
    C1,
    C2,
    C9,
    I1,
    I2,
    I3,
    I9,
    K1,
    K2,
    NOW_MS,
    R1,
    R2,
    R9,
    World,
    standard_catalog,
)

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
HTTP_FUZZ = settings(FUZZ, max_examples=150)

CATALOG = standard_catalog()
CAMPAIGN_ACCOUNT = {c["id"]: c["account_id"] for c in CATALOG["campaigns"]}
INSERTION_CAMPAIGN = {i["id"]: i["campaign_id"] for i in CATALOG["insertions"]}
CREATIVE_ACCOUNT = {c["id"]: c["account_id"] for c in CATALOG["creatives"]}
CONTENTS = {c["id"] for c in CATALOG["contents"]}
CATALOG_IDS = sorted(
    {*CAMPAIGN_ACCOUNT, *INSERTION_CAMPAIGN, *CREATIVE_ACCOUNT, *CONTENTS}
)
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
MAX_EPOCH_MS = 253402300799999  # 9999-12-31T23:59:59.999Z
NOW = datetime.fromtimestamp(NOW_MS / 1000, UTC)
BLANK = " \t\r"  # what a blank line may hold besides nothing (JSON whitespace)


# -- an independent reading of the event format (docs/INGESTION.md) ---------------

_RFC3339 = re.compile(
    r"(?P<date>[0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]"
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2})(?:\.(?P<frac>[0-9]{1,9}))?"
    r"(?:(?P<z>[Zz])|(?P<sign>[+-])(?P<oh>[0-9]{2}):(?P<om>[0-9]{2}))"
)


def timestamp_ms(value: Any) -> float | None:
    """Milliseconds since the epoch of a valid `ts`, else None."""
    if type(value) is int:
        return float(value) if 0 <= value <= MAX_EPOCH_MS else None
    if not isinstance(value, str) or (match := _RFC3339.fullmatch(value)) is None:
        return None
    if int(match["om"] or 0) > 59:
        return None
    try:
        offset = timedelta(
            hours=int(match["oh"] or 0), minutes=int(match["om"] or 0)
        ) * (-1 if match["sign"] == "-" else 1)
        year, month, day = map(int, match["date"].split("-"))
        when = datetime(
            year,
            month,
            day,
            int(match["h"]),
            int(match["m"]),
            int(match["s"]),
            tzinfo=timezone(offset),
        )
    except ValueError:
        return None
    fraction = float(f"0.{match['frac']}") if match["frac"] else 0.0
    return (when.timestamp() + fraction) * 1000


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= MAX_ID_LENGTH


def event_verdict(line: str, now_ms: int) -> tuple[str, str | None]:
    """("blank" | "valid" | "invalid", the event id when valid)."""
    if not line.strip(BLANK):
        return "blank", None
    if len(line.encode("utf-8")) > MAX_LINE_BYTES:
        return "invalid", None
    try:
        event = orjson.loads(line)
    except orjson.JSONDecodeError:
        return "invalid", None
    if not isinstance(event, dict):
        return "invalid", None
    when = timestamp_ms(event.get("ts"))
    campaign, insertion = event.get("campaign_id"), event.get("insertion_id")
    creative, content = event.get("creative_id"), event.get("content_id")
    valid = (
        _is_id(event.get("id"))
        and event.get("type") in EVENT_TYPES
        and when is not None
        and when <= now_ms + MAX_FUTURE_SECONDS * 1000
        and _is_id(event.get("impression_id"))
        and isinstance(campaign, str)
        and campaign in CAMPAIGN_ACCOUNT
        and isinstance(insertion, str)
        and INSERTION_CAMPAIGN.get(insertion) == campaign
        and isinstance(creative, str)
        and CREATIVE_ACCOUNT.get(creative) == CAMPAIGN_ACCOUNT[campaign]
        and (content is None or (isinstance(content, str) and content in CONTENTS))
    )
    return ("valid", event["id"]) if valid else ("invalid", None)


def numbered_lines(data: bytes, first_line: int) -> Iterator[tuple[int, str | None]]:
    """(line number, its text, or None when it is not UTF-8), as adstats reads
    a stream: lines end at \\n, a last line needs none, and a byte order mark
    starting the stream is not part of its first line."""
    pieces = data.split(b"\n")
    if pieces[-1] == b"":
        pieces.pop()
    for offset, raw in enumerate(pieces):
        try:
            text: str | None = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = None
        if offset == 0 and first_line == 1 and text is not None:
            text = text.removeprefix("\ufeff")
        yield first_line + offset, text


def non_blank_lines(data: bytes, first_line: int = 1) -> list[int]:
    return [
        number
        for number, text in numbered_lines(data, first_line)
        if text is None or text.strip(BLANK)
    ]


# -- strategies -------------------------------------------------------------------

ABSENT = object()

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
    ),
    max_leaves=12,
)
# Few letters: ids collide, so duplicates happen; any text too.
event_ids = st.one_of(
    st.text(alphabet="ab", min_size=1, max_size=3),
    st.text(min_size=1, max_size=MAX_ID_LENGTH),
)
instants = st.datetimes(
    min_value=datetime(1900, 1, 2), max_value=NOW.replace(tzinfo=None)
).map(lambda naive: naive.replace(tzinfo=UTC))
offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timedelta(minutes=m))


@st.composite
def rfc3339(draw: st.DrawFn, instant: st.SearchStrategy[datetime] = instants) -> str:
    """An instant written in any offset, with any separator, case and
    fraction (1 to 9 digits) that RFC 3339 allows."""
    local = draw(instant).astimezone(timezone(draw(offsets)))
    digits = draw(st.integers(0, 9))
    extra = draw(st.text(alphabet=string.digits, min_size=3, max_size=3))
    fraction = f".{(f'{local.microsecond:06d}' + extra)[:digits]}" if digits else ""
    offset = local.strftime("%z")
    zone = f"{offset[:3]}:{offset[3:]}"
    if zone in ("+00:00", "-00:00") and draw(st.booleans()):
        zone = draw(st.sampled_from("Zz"))
    sep = draw(st.sampled_from("Tt "))
    return f"{local:%Y-%m-%d}{sep}{local:%H:%M:%S}{fraction}{zone}"


valid_timestamps = st.one_of(
    rfc3339(), st.integers(0, NOW_MS + MAX_FUTURE_SECONDS * 1000)
)
tricky_timestamps = st.one_of(
    st.sampled_from(
        [
            "2023-01-10T12:00:00",  # no offset
            "2023-01-10 12:00",
            "2023-01-10",
            "2023-02-30T12:00:00Z",  # impossible day
            "2023-02-29T12:00:00Z",
            "2024-02-29T12:00:00Z",
            "2023-01-10T24:00:00Z",
            "2023-01-10T12:60:00Z",
            "2023-01-10T12:00:00+24:00",
            "2023-01-10T12:00:00+0100",
            "2023-01-10T12:00:00.Z",
            "12023-01-10T12:00:00Z",
            "2023-01-10T12:00:00Z ",
            " 2023-01-10T12:00:00Z",
            "1673352000000",
            "",
            "now",
            "NaN",
            "1e999",
        ]
    ),
    # More than five minutes ahead of "now", by whole seconds.
    rfc3339(
        st.integers(MAX_FUTURE_SECONDS + 1, 10**9).map(
            lambda s: NOW + timedelta(seconds=s)
        )
    ),
    st.integers(NOW_MS + MAX_FUTURE_SECONDS * 1000 + 1, 2**63 - 1),
    st.integers(-(2**63), -1),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=30),
)
odd_ids = st.one_of(
    st.sampled_from(CATALOG_IDS),
    st.sampled_from(CATALOG_IDS).map(str.upper),
    st.sampled_from(CATALOG_IDS).map(lambda found: found[:-1]),
    st.sampled_from(["", "x" * (MAX_ID_LENGTH + 1), "é" * MAX_ID_LENGTH]),
    json_values,
)


@st.composite
def valid_events(draw: st.DrawFn) -> dict[str, Any]:
    insertion = draw(st.sampled_from([I1, I2, I3, I9]))
    event: dict[str, Any] = {
        "id": draw(event_ids),
        "type": draw(st.sampled_from(EVENT_TYPES)),
        "ts": draw(valid_timestamps),
        "impression_id": draw(event_ids),
        "campaign_id": INSERTION_CAMPAIGN[insertion],
        "insertion_id": insertion,
        "creative_id": draw(st.sampled_from([R9] if insertion == I9 else [R1, R2])),
    }
    content = draw(st.sampled_from([ABSENT, None, K1, K2]))
    if content is not ABSENT:
        event["content_id"] = content
    return event


Mutation = Callable[[dict[str, Any]], None]


@st.composite
def mutations(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(FIELDS))
    kind = draw(st.sampled_from(["drop", "value", "ts", "id", "extra"]))
    if kind == "drop":
        return lambda event: event.pop(name, None)
    if kind == "value":
        value = draw(json_values)
    elif kind == "ts":
        name, value = "ts", draw(tricky_timestamps)
    elif kind == "id":
        value = draw(odd_ids)
    else:
        name, value = draw(st.text(max_size=12)), draw(json_values)
    return lambda event: event.__setitem__(name, value)


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(valid_events())
    for mutate in draw(st.lists(mutations(), max_size=3)):
        mutate(event)
    return event


@st.composite
def spelled(draw: st.DrawFn, value: Any) -> str:
    """One JSON spelling of value: compact, spaced, ASCII-escaped, or padded."""
    how = draw(st.sampled_from(["orjson", "spaced", "ascii", "padded"]))
    if how == "orjson":
        return orjson.dumps(value).decode()
    if how == "spaced":
        return json.dumps(value, ensure_ascii=False, separators=(" , ", " : "))
    if how == "ascii":
        return json.dumps(value, ensure_ascii=True)
    pad = draw(st.text(alphabet=BLANK, max_size=3))
    return pad + orjson.dumps(value).decode() + pad


event_lines = st.one_of(
    valid_events().flatmap(spelled),
    mutated_events().flatmap(spelled),
    json_values.flatmap(spelled),
    st.text(alphabet=BLANK, max_size=3),
)
raw_lines = st.one_of(
    event_lines.map(lambda line: line.encode("utf-8")),
    st.binary(max_size=40).map(lambda raw: raw.replace(b"\n", b"")),
    st.sampled_from(
        [
            b"\xff\xfe",
            b"\xef\xbb\xbf{}",
            b'{"id":"\xc3\x28"}',
            b"\x00",
            b"\r",
            b"[1,]",
            b'{"a":NaN}',
            b'{"a":1,}',
        ]
    ),
)


@st.composite
def streams(draw: st.DrawFn) -> bytes:
    """NDJSON bytes: lines of anything, with or without a last newline, CRLF
    line ends now and then, and a byte order mark at the start now and then."""
    lines = draw(st.lists(raw_lines, max_size=12))
    ends = draw(
        st.lists(
            st.sampled_from([b"\n", b"\r\n"]), min_size=len(lines), max_size=len(lines)
        )
    )
    data = b"".join(line + end for line, end in zip(lines, ends, strict=True))
    if data and draw(st.booleans()):
        data = data[:-1]
    if draw(st.integers(0, 9)) == 0:
        data = b"\xef\xbb\xbf" + data
    return data


# -- the event parser, in process -----------------------------------------------


@dataclass
class Ingesting:
    """A real adstats on a DuckDB file, and what it has counted so far."""

    world: World
    parser: EventParser
    counted: set[str] = field(default_factory=set)


@pytest.fixture(scope="module")
def ingesting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ingesting]:
    world = World(tmp_path_factory.mktemp("fuzz") / "events.duckdb", CATALOG)
    parser = EventParser()
    try:
        yield Ingesting(world, parser)
    finally:
        parser.close()
        world.close()


def check_parse(ingesting: Ingesting, data: bytes, first_line: int) -> None:
    """The parser's verdicts: one per non-blank line, exact line numbers."""
    state = ingesting.world.store.catalog_state()
    parsed = ingesting.parser.parse(chunk_of_bytes(data, first_line), state, NOW_MS)

    good = parsed.events["line_no"].to_pylist()
    bad = [r.line for r in parsed.rejections]
    assert len(set(good)) == len(good)
    assert len(set(bad)) == len(bad)
    assert sorted(good + bad) == non_blank_lines(data, first_line)
    assert bad == sorted(bad)
    for rejection in parsed.rejections:
        assert isinstance(rejection.reason, str) and rejection.reason.strip()


@FUZZ
@given(data=st.binary(max_size=300), first_line=st.integers(1, 10**9))
@example(data=b"", first_line=1)
@example(data=b"\n\n \r\n\t", first_line=1)
@example(data=b"\xef\xbb\xbf\n{}", first_line=1)
@example(data=b"\xef\xbb\xbf\n{}", first_line=2)
@example(data=b"x" * (MAX_LINE_BYTES + 1) + b"\n{}\n", first_line=7)
@example(data=b'{"id":"\xff"}\n\xc3\n{}', first_line=1)
def test_parser_survives_any_bytes(
    ingesting: Ingesting, data: bytes, first_line: int
) -> None:
    check_parse(ingesting, data, first_line)


@FUZZ
@given(data=streams(), first_line=st.integers(1, 10**6))
def test_parser_survives_lines_of_anything(
    ingesting: Ingesting, data: bytes, first_line: int
) -> None:
    check_parse(ingesting, data, first_line)


@FUZZ
@given(lines=st.lists(event_lines, max_size=10))
def test_each_line_gets_the_documented_verdict(
    ingesting: Ingesting, lines: list[str]
) -> None:
    """Valid events, mutated ones and arbitrary JSON values: the parser
    accepts exactly the lines that follow docs/INGESTION.md."""
    data = ndjson(lines)
    state = ingesting.world.store.catalog_state()
    parsed = ingesting.parser.parse(chunk_of_bytes(data), state, NOW_MS)
    verdicts = {n: event_verdict(line, NOW_MS) for n, line in enumerate(lines, 1)}

    accepted = dict(
        zip(
            parsed.events["line_no"].to_pylist(),
            parsed.events["event_id"].to_pylist(),
            strict=True,
        )
    )
    rejected = {r.line: r.reason for r in parsed.rejections}
    assert accepted == {n: id_ for n, (v, id_) in verdicts.items() if v == "valid"}
    assert set(rejected) == {n for n, (v, _) in verdicts.items() if v == "invalid"}
    assert all(reason.strip() for reason in rejected.values())


@FUZZ
@given(lines=st.lists(event_lines, max_size=10), crlf=st.booleans())
@example(lines=[], crlf=False)
def test_ingestion_reports_every_line_once(
    ingesting: Ingesting, lines: list[str], crlf: bool
) -> None:
    """Through the whole pipeline: accepted, duplicates and rejections add up
    to the non-blank lines, and an id counted before is a duplicate."""
    data = ndjson(lines).replace(b"\n", b"\r\n") if crlf else ndjson(lines)
    accepted = duplicates = 0
    invalid = []
    for number, line in enumerate(lines, 1):
        verdict, event_id = event_verdict(line, NOW_MS)
        if verdict == "invalid":
            invalid.append(number)
        elif event_id is not None and event_id in ingesting.counted:
            duplicates += 1
        elif event_id is not None:
            accepted += 1
            ingesting.counted.add(event_id)

    report = ingesting.world.ingest_bytes(data)

    assert [r.line for r in report.rejected] == invalid
    assert (report.accepted, report.duplicates) == (accepted, duplicates)
    assert report.accepted + report.duplicates + len(report.rejected) == len(
        non_blank_lines(data)
    )


@FUZZ
@given(data=streams(), first_line=st.integers(1, 10**6))
def test_ingestion_of_anything_adds_up(
    ingesting: Ingesting, data: bytes, first_line: int
) -> None:
    report = ingesting.world.admin.ingest_chunk(chunk_of_bytes(data, first_line))

    rejected = [r.line for r in report.rejected]
    assert rejected == sorted(set(rejected))
    assert set(rejected) <= set(non_blank_lines(data, first_line))
    assert report.accepted + report.duplicates + len(rejected) == len(
        non_blank_lines(data, first_line)
    )
    assert all(r.reason.strip() for r in report.rejected)
    # Whatever was accepted is counted from now on: the oracle test's model
    # must know it, so it is read back from the report's complement.
    for number, text in numbered_lines(data, first_line):
        if number not in rejected and text is not None and text.strip(BLANK):
            ingesting.counted.add(str(orjson.loads(text)["id"]))


# -- found by fuzzing the parser; src/adstats/ingest is owned elsewhere ----------


def _with_extra(event_id: str, extra: str) -> str:
    """A valid event with one more field, spelled as given."""
    base = {
        "id": event_id,
        "type": "impression",
        "ts": "2023-01-10T12:00:00Z",
        "impression_id": "i",
        "campaign_id": C1,
        "insertion_id": I1,
        "creative_id": R1,
    }
    return orjson.dumps(base).decode()[:-1] + f",{extra}}}"


def test_a_number_too_big_for_a_double_gets_one_verdict(ingesting: Ingesting) -> None:
    """`1e400` in an ignored field: whether the line is accepted must not
    depend on whether some other field happens to contain "inf" or "nan"
    (only such lines are checked again by the strict JSON parser)."""
    lines = [
        _with_extra("plain", '"x":1e400'),
        _with_extra("info", '"x":1e400'),
        _with_extra("banana", '"x":1e400'),
    ]
    state = ingesting.world.store.catalog_state()
    parsed = ingesting.parser.parse(chunk_of_bytes(ndjson(lines)), state, NOW_MS)

    accepted = parsed.events["line_no"].to_pylist()
    # Valid JSON by RFC 8259's grammar, in a field adstats ignores (INGESTION.md)
    assert accepted == [1, 2, 3], [(r.line, r.reason) for r in parsed.rejections]


def test_an_event_of_a_day_no_answer_can_show_is_rejected(ingesting: Ingesting) -> None:
    """API days run from 0001-01-01 (`date_from=0000-12-31` is refused as not a
    real day), so an event of year 0 could never be shown, yet it is counted
    and billed against the budgets."""
    events = [
        event_of("y0-a", "0000-06-01T12:00:00Z"),
        event_of("y0-b", "0001-01-01T00:30:00+01:00"),
    ]
    state = ingesting.world.store.catalog_state()
    parsed = ingesting.parser.parse(chunk_of_bytes(ndjson(events)), state, NOW_MS)

    assert parsed.events["line_no"].to_pylist() == []
    assert [r.line for r in parsed.rejections] == [1, 2]


def event_of(event_id: str, ts: str) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "impression",
        "ts": ts,
        "impression_id": event_id,
        "campaign_id": C1,
        "insertion_id": I1,
        "creative_id": R1,
    }


# -- catalog documents ------------------------------------------------------------


@st.composite
def catalog_documents(draw: st.DrawFn) -> Any:
    """The standard catalog with a few lists or fields replaced by anything,
    or any JSON value at all."""
    document: dict[str, Any] = orjson.loads(orjson.dumps(CATALOG))
    for _change in range(draw(st.integers(0, 3))):
        name = draw(st.sampled_from(sorted(document)))
        items = document[name]
        if draw(st.booleans()) or not isinstance(items, list) or not items:
            document[name] = draw(json_values)
            continue
        item = draw(st.sampled_from(items))
        if isinstance(item, dict):
            key = draw(st.sampled_from([*sorted(item), "budget", "timezone", "extra"]))
            item[key] = draw(
                st.one_of(
                    json_values,
                    st.sampled_from(
                        [
                            "1.00",
                            "EUR",
                            "UTC",
                            "cpm",
                            "0.0000001",
                            "1e5",
                            "NaN",
                            "-1",
                            "Infinity",
                            "Europe/Paris",
                            "localtime",
                            "",
                            "\x00",
                        ]
                    ),
                )
            )
    return draw(st.one_of(st.just(document), json_values))


@FUZZ
@given(document=catalog_documents())
@example(
    document=CATALOG
    | {"insertions": [CATALOG["insertions"][0] | {"pricing_model": []}]}
)
@example(document=CATALOG | {"creatives": [CATALOG["creatives"][0] | {"format": {}}]})
@example(document=CATALOG | {"accounts": [CATALOG["accounts"][0] | {"timezone": [1]}]})
def test_a_catalog_is_refused_only_with_a_catalog_error(document: Any) -> None:
    """`adstats catalog load` answers a one-line reason (and, through a
    running server, a 400) for any document, never a crash or a 500."""
    try:
        merge_catalog(Catalog.empty(), document)
    except CatalogError as refused:
        assert refused.message.strip()


# -- query parameters -------------------------------------------------------------

CAMPAIGN_ALLOWED = RANGE_PARAMS + CAMPAIGN_BREAKDOWNS
ALL_NAMES = (*AUTH_PARAMS, *CAMPAIGN_ALLOWED)
SECRET = "ads_" + "0" * 24 + "_" + "A" * 43  # shaped like a key; never echoed
TIMEZONES = (
    "UTC",
    "Europe/Paris",
    "Asia/Tokyo",
    "Pacific/Kiritimati",
    "America/St_Johns",
    "Pacific/Pago_Pago",
)
BOOLEAN_WORDS = {"true": True, "false": False, "1": True, "0": False}

parameter_values = st.one_of(
    st.dates().map(date.isoformat),
    st.sampled_from(
        [
            "true",
            "FALSE",
            "1",
            "0",
            "yes",
            "",
            "json",
            "csv",
            "CSV",
            "2023-02-30",
            "2023-13-01",
            "0000-01-01",
            "+2023-01-01",
            "2023-1-1",
            "20230101",
            "\uff12\uff10\uff12\uff13-01-01",  # fullwidth digits
            SECRET,
            f"2023-01-01{SECRET}",
        ]
    ),
    st.text(max_size=30),
)
parameter_names = st.one_of(
    st.sampled_from(ALL_NAMES),
    st.sampled_from([SECRET, "by_days", "API_KEY", ""]),
    st.text(max_size=12),
)
parameter_lists = st.lists(st.tuples(parameter_names, parameter_values), max_size=6)


@st.composite
def plausible_queries(draw: st.DrawFn) -> tuple[list[tuple[str, str]], date]:
    """Known names once each, with values that are mostly right, and a today
    near their days: most of these are accepted."""
    today = draw(st.dates(date(1, 2, 1)))
    near = st.integers(-40, 40).map(
        lambda days: (
            (today + timedelta(days=days)).isoformat()
            if date.min + timedelta(days=40) < today < date.max - timedelta(days=40)
            else today.isoformat()
        )
    )
    good = {
        "date_from": near,
        "date_to": near,
        "format": st.sampled_from([*FORMATS, "CSV"]),
        "api_key": st.just(SECRET),
        **{
            name: st.sampled_from(["true", "False", "1", "0", "TRUE", "yes"])
            for name in ("by_day", *CAMPAIGN_BREAKDOWNS)
        },
    }
    names = draw(
        st.lists(st.sampled_from(ALL_NAMES), unique=True, max_size=len(ALL_NAMES))
    )
    return [(name, draw(good[name])) for name in names], today


def expected_query(
    params: list[tuple[str, str]], allowed: tuple[str, ...], today: date
) -> StatsQuery | None:
    """docs/API.md's parameters, read independently: the query, or None when
    the request is refused with 400."""
    names = [name for name, _ in params]
    if set(names) - {*allowed, *AUTH_PARAMS} or len(set(names)) != len(names):
        return None
    values = dict(params)
    days: dict[str, date | None] = {}
    for name in ("date_from", "date_to"):
        raw = values.get(name)
        if raw is not None and not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", raw):
            return None
        try:
            days[name] = None if raw is None else date.fromisoformat(raw)
        except ValueError:
            return None
    flags = {
        name: BOOLEAN_WORDS.get(values.get(name, "false").lower())
        for name in ("by_day", *CAMPAIGN_BREAKDOWNS)
    }
    if None in flags.values() or values.get("format", "json") not in FORMATS:
        return None
    yesterday = today - timedelta(days=1)
    first, last = days["date_from"], days["date_to"]
    if first is None:
        first = yesterday if last is None or last >= yesterday else last
    if last is None:
        last = yesterday if first <= yesterday else first
    if first > last or (last - first).days + 1 > MAX_RANGE_DAYS:
        return None
    return StatsQuery(
        first,
        last,
        format=values.get("format", "json"),
        **{k: bool(v) for k, v in flags.items()},
    )


@FUZZ
@given(
    query=st.one_of(
        st.tuples(parameter_lists, st.dates(min_value=date(1, 1, 2))),
        plausible_queries(),
    ),
    campaign_family=st.booleans(),
    tz=st.sampled_from(TIMEZONES),
)
@example(
    query=([("date_from", "9999-12-31")], date(2024, 1, 1)),
    campaign_family=True,
    tz="UTC",
)
@example(
    query=([("date_to", "0001-01-01")], date(2024, 1, 1)),
    campaign_family=True,
    tz="UTC",
)
@example(query=([], date(1, 1, 2)), campaign_family=False, tz="UTC")
@example(
    query=([("date_from", "2014-01-01"), ("date_to", "2024-01-08")], date(2024, 1, 1)),
    campaign_family=False,
    tz="UTC",
)
@example(
    query=([("date_from", "2014-01-01"), ("date_to", "2024-01-09")], date(2024, 1, 1)),
    campaign_family=False,
    tz="UTC",
)
def test_query_parameters_parse_as_documented(
    query: tuple[list[tuple[str, str]], date], campaign_family: bool, tz: str
) -> None:
    params, today = query
    allowed = CAMPAIGN_ALLOWED if campaign_family else RANGE_PARAMS
    expected = expected_query(params, allowed, today)
    try:
        parsed = parse_stats_query(params, allowed, tz, today)
    except BadRequest as refused:
        assert expected is None, (expected, refused.message)
        assert refused.message.strip()
        assert SECRET not in refused.message
    else:
        assert parsed == expected


# -- query strings over HTTP ------------------------------------------------------

ENDPOINTS = (
    "/api/campaigns",
    f"/api/campaigns/{C1}",
    f"/api/campaigns/{C9}",  # another account's: 404 whatever the parameters
    "/api/stats/campaigns",
    f"/api/stats/campaigns/{C2}",
    "/api/stats/insertions",
    f"/api/stats/insertions/{I1}",
    "/api/stats/contents",
    f"/api/stats/contents/{K1}",
)
# Printable ASCII that may go raw, stray % included; not the separators.
RAW_SAFE = (
    "".join(c for c in string.punctuation if c not in "&#") + string.ascii_letters
)
raw_text = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=20)


@st.composite
def query_strings(draw: st.DrawFn) -> str:
    """A query string: known and unknown names, values good and bad, each
    percent-encoded or raw, with stray separators now and then."""
    pairs = []
    for name, value in draw(
        st.lists(
            st.tuples(parameter_names, st.one_of(parameter_values, raw_text)),
            max_size=6,
        )
    ):
        safe = "" if draw(st.booleans()) else RAW_SAFE
        name, value = quote(name, safe=safe), quote(value, safe=safe)
        pairs.append(draw(st.sampled_from([f"{name}={value}", name, f"{name}=", "="])))
    return "&".join(pairs) + draw(st.sampled_from(["", "&", "&&"]))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, key) of a server with the standard catalog and some events."""
    db = tmp_path_factory.mktemp("fuzz-http") / "stats.duckdb"
    lines = [orjson.dumps(event) for event in _some_events()]
    prepared = prepare_db(db, CATALOG, [b"\n".join(lines)], [(A1, "fuzz")])
    assert prepared.reports[0]["rejected"] == []
    server = ServerProcess(db, {"ADSTATS_RATE_LIMIT": "0"}).start()
    try:
        yield server.base_url, prepared.secrets["fuzz"]
    finally:
        server.stop()


def _some_events() -> Iterator[dict[str, Any]]:
    for day in range(1, 6):
        for number, (insertion, creative, content) in enumerate(
            [(I1, R1, K1), (I2, R2, None), (I3, R2, K2), (I9, R9, K1)]
        ):
            for kind in ("impression", "visible_impression", "click", "video_start"):
                yield {
                    "id": f"{day}-{number}-{kind}",
                    "type": kind,
                    "ts": f"2024-03-{day:02d}T23:30:00+01:00",
                    "impression_id": f"{day}-{number}",
                    "campaign_id": INSERTION_CAMPAIGN[insertion],
                    "insertion_id": insertion,
                    "creative_id": creative,
                    "content_id": content,
                }


@pytest.mark.parametrize("path", ENDPOINTS)
def test_no_query_string_gets_a_server_error(live: tuple[str, str], path: str) -> None:
    base_url, secret = live
    seen: set[int] = set()

    @HTTP_FUZZ
    @given(query=query_strings())
    @example(query="date_from=2024-03-01&date_to=2024-03-06&by_day=1&format=csv")
    @example(query="date_from=0001-01-01&date_to=0001-01-01&by_day=true")
    @example(query="date_from=9999-12-22&date_to=9999-12-31&by_day=true")
    @example(query="date_to=9999-12-31")
    @example(query="date_from=9999-12-31")
    @example(query="%ZZ=%&date_from=%FF")
    def answers(query: str) -> None:
        response = http.get(f"{path}?{query}")
        seen.add(response.status_code)
        assert response.status_code < 500, (query, response.text)
        if response.status_code >= 400:
            error_of(response)
        else:
            assert response.status_code == 200
            kind = response.headers["content-type"]
            assert kind in ("application/json", "text/csv; charset=utf-8"), kind
            if kind == "application/json":
                assert isinstance(response.json(), list)

    with httpx.Client(
        base_url=base_url, headers={"X-Api-Key": secret}, timeout=30
    ) as http:
        answers()
    assert {200 if path != ENDPOINTS[2] else 404, 400} <= seen, seen
