"""Counting and validation of events (SPEC section 2), on a real DuckDB file.

Every expected number here is worked out by hand from the SPEC rules.
"""

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from adstats.ingest.report import IngestReport, Rejection
from support.model import EVENT_TYPES, EVERY_EVENT, Model
from support.world import (
    A1,
    A2,
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
    counters,
    event,
    hex_id,
    ndjson,
    nonzero,
    standard_catalog,
)

DAY = date(2023, 1, 10)
ONCE_PER_IMPRESSION = [t for t in EVENT_TYPES if t not in EVERY_EVENT]
EVERY = sorted(EVERY_EVENT)

# campaign metric name of each type
METRIC = {
    "impression": "impressions",
    "visible_impression": "visible_impressions",
    "engagement": "engagements",
    "vote": "votes",
    "click": "clicks",
    "form_submission": "form_submissions",
    "optin_submission": "optin_submissions",
    "video_impression": "video_impressions",
    "video_visible_impression": "video_visible_impressions",
    "video_start": "video_start",
    "video_first_quartile": "video_first_quartile",
    "video_midpoint": "video_midpoint",
    "video_third_quartile": "video_third_quartile",
    "video_complete": "video_complete",
}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    # cpm 0 everywhere, so no spent gets in the way of counting
    w = World(
        tmp_path / "db.duckdb",
        standard_catalog(
            i1=("cpm", "0", None), i2=("cpc", "0", None), i3=("cpv", "0", None)
        ),
    )
    yield w
    w.close()


def report(accepted: int, duplicates: int, *rejected: tuple[int, str]) -> IngestReport:
    return IngestReport(accepted, duplicates, [Rejection(n, r) for n, r in rejected])


# -- duplicates ---------------------------------------------------------------------


def test_a_duplicate_id_within_a_batch_is_ignored(world: World) -> None:
    got = world.ingest(
        [
            event("e1", "click", "imp1", insertion_id=I2),
            event("e1", "click", "imp1", insertion_id=I2),
            # the same id with other content is still the same event
            event("e1", "vote", "imp2", insertion_id=I2),
            event("e2", "click", "imp1", insertion_id=I2),
        ]
    )
    assert got == report(2, 2)
    assert nonzero(world.campaign(DAY)) == {"clicks": 2, "billables": 2}


def test_a_duplicate_id_across_batches_is_ignored(world: World) -> None:
    first = world.ingest(
        [
            event("e1", "impression", "imp1"),
            event("e2", "click", "imp1", insertion_id=I2),
        ]
    )
    second = world.ingest(
        [
            event("e2", "click", "imp1", insertion_id=I2),
            event("e1", "impression", "imp1"),
            event("e3", "click", "imp1", insertion_id=I2),
            event("e3", "click", "imp1", insertion_id=I2),
        ]
    )
    assert first == report(2, 0)
    assert second == report(1, 3)
    row = world.campaign(DAY)
    assert nonzero(row) == {"impressions": 1, "clicks": 2, "billables": 3}


def test_a_whole_file_replayed_changes_nothing(world: World) -> None:
    lines = [
        event("e1", "impression", "imp1", content_id=K1),
        event("e2", "visible_impression", "imp1", content_id=K1),
        event("e3", "click", "imp1", insertion_id=I2, content_id=K2),
        event("e4", "video_start", "imp2", insertion_id=I3, creative_id=R2),
    ]
    assert world.ingest(lines) == report(4, 0)
    before = world.campaigns(DAY, by_insertion=True, by_content=True)
    assert world.ingest(lines) == report(0, 4)
    assert world.ingest(list(reversed(lines))) == report(0, 4)
    assert world.campaigns(DAY, by_insertion=True, by_content=True) == before
    shown = [
        (
            r["insertion_id"],
            r["content_id"],
            r["impressions"],
            r["visible_impressions"],
            r["clicks"],
            r["video_start"],
        )
        for r in before
    ]
    assert shown == [(I1, K1, 1, 1, 0, 0), (I2, K2, 0, 0, 1, 0), (I3, None, 0, 0, 0, 1)]


# -- once per impression, every event -----------------------------------------------


def test_impression_counts_once_per_impression_id(world: World) -> None:
    got = world.ingest(
        [
            event("e1", "impression", "imp1"),
            event("e2", "impression", "imp1"),  # another id, same impression
            event("e3", "impression", "imp2"),
            event("e4", "impression", "imp1", ts="2023-01-10T13:00:00Z"),
        ]
    )
    # repeats with a new id are accepted events that do not count again
    assert got == report(4, 0)
    assert world.ingest([event("e5", "impression", "imp2")]) == report(1, 0)
    assert nonzero(world.campaign(DAY)) == {"impressions": 2, "billables": 2}


@pytest.mark.parametrize("event_type", ONCE_PER_IMPRESSION)
def test_once_per_impression_types_count_once_per_impression_and_type(
    world: World, event_type: str
) -> None:
    world.ingest(
        [
            event("e1", event_type, "imp1"),
            event("e2", event_type, "imp1"),
            event("e3", event_type, "imp2"),
            # another type of the same impression counts on its own
            event("e4", "vote", "imp1"),
        ]
    )
    world.ingest([event("e5", event_type, "imp2"), event("e6", event_type, "imp3")])
    row = world.campaign(DAY)
    assert row[METRIC[event_type]] == 3
    assert row["votes"] == 1
    assert sum(counters(row).values()) - row["billables"] == 4


def test_the_once_per_impression_key_is_impression_and_type(world: World) -> None:
    lines = [
        event(f"e{n}", t, "imp1", insertion_id=I3, creative_id=R2)
        for n, t in enumerate(ONCE_PER_IMPRESSION)
    ]
    lines += [
        event(f"again{n}", t, "imp1", insertion_id=I3, creative_id=R2)
        for n, t in enumerate(ONCE_PER_IMPRESSION)
    ]
    assert world.ingest(lines) == report(20, 0)
    row = world.campaign(DAY, C2)
    assert nonzero(row) == {
        "impressions": 1,
        "visible_impressions": 1,
        "engagements": 1,
        "video_impressions": 1,
        "video_visible_impressions": 1,
        "video_start": 1,
        "video_first_quartile": 1,
        "video_midpoint": 1,
        "video_third_quartile": 1,
        "video_complete": 1,
        "video_complete_rate": 1.0,
        "billables": 1,
    }


@pytest.mark.parametrize("event_type", EVERY)
def test_every_event_types_count_every_event(world: World, event_type: str) -> None:
    world.ingest(
        [
            event("e1", event_type, "imp1"),
            event("e2", event_type, "imp1"),
            event("e3", event_type, "imp1"),
            event("e3", event_type, "imp1"),  # a duplicate id
        ]
    )
    world.ingest([event("e4", event_type, "imp1"), event("e1", event_type, "imp1")])
    row = world.campaign(DAY)
    assert row[METRIC[event_type]] == 4
    assert sum(counters(row).values()) == 4


def test_counts_and_rates_of_a_mixed_file(world: World) -> None:
    lines = []
    for n in range(8):
        lines += [
            event(f"i{n}", "impression", f"imp{n}"),
            event(f"v{n}", "visible_impression", f"imp{n}"),
        ]
    lines += [event(f"c{n}", "click", f"imp{n % 2}") for n in range(3)]
    lines += [
        event(f"s{n}", "video_start", f"vid{n}", insertion_id=I3, creative_id=R2)
        for n in range(3)
    ]
    lines += [event("q0", "video_complete", "vid0", insertion_id=I3, creative_id=R2)]
    assert world.ingest(lines) == report(23, 0)
    assert nonzero(world.campaign(DAY, C1)) == {
        "impressions": 8,
        "visible_impressions": 8,
        "clicks": 3,
        "click_through_rate": 0.375,
        "billables": 8,
    }
    assert nonzero(world.campaign(DAY, C2)) == {
        "video_start": 3,
        "video_complete": 1,
        "video_complete_rate": 0.333333,
        "billables": 3,
    }


def test_rates_round_half_up_to_six_places_and_never_divide_by_zero(
    world: World,
) -> None:
    # C1: 1 click / 128 visible = 0.0078125 -> 0.007813 (half-up, not half-even);
    # no video start -> 0. C2: a click without visible impressions -> 0;
    # 2 complete / 3 starts = 0.6666666... -> 0.666667
    lines = [event(f"v{n}", "visible_impression", f"imp{n}") for n in range(128)]
    lines += [event("c1", "click", "imp0")]
    lines += [event("c2", "click", "x", insertion_id=I3, creative_id=R2)]
    lines += [
        event(f"s{n}", "video_start", f"vid{n}", insertion_id=I3, creative_id=R2)
        for n in range(3)
    ]
    lines += [
        event(f"q{n}", "video_complete", f"vid{n}", insertion_id=I3, creative_id=R2)
        for n in range(2)
    ]
    world.ingest(lines)
    c1, c2 = world.campaigns(DAY)
    assert (c1["click_through_rate"], c1["video_complete_rate"]) == (0.007813, 0)
    assert (c2["click_through_rate"], c2["video_complete_rate"]) == (0, 0.666667)


# -- rejections ---------------------------------------------------------------------


def raw(**fields: Any) -> str:
    """A valid event line of C1/I1/R1 with some fields replaced (None drops)."""
    item: dict[str, Any] = event("r1", "impression", "imp-r")
    for name, value in fields.items():
        if value is None:
            item.pop(name, None)
        else:
            item[name] = value
    return orjson.dumps(item).decode()


VALID = raw()
UNKNOWN = hex_id("ee", 1)
FUTURE_OK = NOW_MS + 5 * 60 * 1000
OVERSIZE = raw(padding="x" * (64 * 1024))

# (label, line, pattern the reason must match, case-insensitive)
REJECTED: list[tuple[str, str | bytes, str]] = [
    ("truncated JSON", VALID[:-1], r"JSON"),
    ("not JSON at all", "hello", r"JSON"),
    ("trailing comma", VALID[:-1] + ",}", r"JSON"),
    ("trailing comma in a list", raw(extra=[1]).replace("[1]", "[1,]"), r"JSON"),
    ("NaN", VALID[:-1] + ',"score":NaN}', r"JSON"),
    ("Infinity", VALID[:-1] + ',"score":Infinity}', r"JSON"),
    ("-Infinity", VALID[:-1] + ',"score":-Infinity}', r"JSON"),
    ("lowercase nan", VALID[:-1] + ',"score":nan}', r"JSON"),
    # Python's parser takes a lone surrogate escape; DuckDB's does not
    ("lone surrogate escape", VALID[:-1] + r',"note":"\ud800"}', r"JSON"),
    ("lowercase inf", VALID[:-1] + ',"score":inf}', r"JSON"),
    ("single quotes", VALID.replace('"', "'"), r"JSON"),
    ("two objects on one line", VALID + VALID, r"JSON"),
    ("a list", "[1, 2]", r"object"),
    ("a string", '"event"', r"object"),
    ("a number", "42", r"object"),
    ("null", "null", r"object"),
    ("unknown type", raw(type="impresion"), r"type"),
    ("type of the wrong case", raw(type="Impression"), r"type"),
    ("missing type", raw(type=None), r"type"),
    ("type not a string", raw(type=1), r"type"),
    ("offset-less ts", raw(ts="2023-01-10T12:00:00"), r"offset"),
    ("offset-less ts with fraction", raw(ts="2023-01-10T12:00:00.250"), r"offset"),
    ("date-only ts", raw(ts="2023-01-10"), r"ts"),
    ("impossible day", raw(ts="2023-02-30T12:00:00Z"), r"ts"),
    ("impossible month", raw(ts="2023-13-01T12:00:00Z"), r"ts"),
    ("impossible hour", raw(ts="2023-01-10T25:00:00Z"), r"ts"),
    ("hour 24", raw(ts="2023-01-10T24:00:00Z"), r"ts"),
    ("impossible minute", raw(ts="2023-01-10T12:60:00Z"), r"ts"),
    ("not a time", raw(ts="yesterday"), r"ts"),
    ("ts a boolean", raw(ts=True), r"ts"),
    ("ts a float", raw(ts=1673352000000.5), r"ts"),
    (
        "ts in exponent form",
        VALID.replace('"2023-01-10T12:00:00Z"', "1.6733e12"),
        r"ts",
    ),
    ("ts past a double", VALID.replace('"2023-01-10T12:00:00Z"', "1e400"), r"ts"),
    (
        "ts past a double, minus",
        VALID.replace('"2023-01-10T12:00:00Z"', "-1e400"),
        r"ts",
    ),
    ("missing ts", raw(ts=None), r"ts"),
    ("ts more than 5 minutes ahead (ms)", raw(ts=FUTURE_OK + 1), r"future"),
    ("ts more than 5 minutes ahead", raw(ts="2023-06-01T12:05:01Z"), r"future"),
    ("ts ahead by offset", raw(ts="2023-06-01T14:05:01+02:00"), r"future"),
    ("missing id", raw(id=None), r"\bid\b"),
    ("empty id", raw(id=""), r"\bid\b"),
    ("oversize id", raw(id="x" * 65), r"\bid\b"),
    ("id not a string", raw(id=7), r"\bid\b"),
    ("missing impression_id", raw(impression_id=None), r"impression_id"),
    ("empty impression_id", raw(impression_id=""), r"impression_id"),
    ("oversize impression_id", raw(impression_id="i" * 65), r"impression_id"),
    ("missing campaign_id", raw(campaign_id=None), r"campaign_id"),
    ("unknown campaign", raw(campaign_id=UNKNOWN), r"campaign_id"),
    ("missing insertion_id", raw(insertion_id=None), r"insertion_id"),
    ("unknown insertion", raw(insertion_id=UNKNOWN), r"insertion_id"),
    ("insertion of another campaign", raw(campaign_id=C2), r"insertion_id"),
    ("insertion of another account", raw(insertion_id=I9), r"insertion_id"),
    ("missing creative_id", raw(creative_id=None), r"creative_id"),
    ("unknown creative", raw(creative_id=UNKNOWN), r"creative_id"),
    ("creative of another account", raw(creative_id=R9), r"creative_id"),
    ("unknown content", raw(content_id=UNKNOWN), r"content_id"),
    ("content_id not a string", raw(content_id=5), r"content_id"),
    ("oversize line", OVERSIZE, r"bytes|long|size"),
    ("invalid UTF-8", VALID.encode()[:-2] + b'\xff"}', r"UTF-8"),
    ("truncated UTF-8", VALID.encode()[:8] + b"\xc3", r"UTF-8"),
]


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = World(tmp_path_factory.mktemp("rejections") / "db.duckdb", standard_catalog())
    yield w
    w.close()


@pytest.mark.parametrize(
    ("line", "pattern"),
    [pytest.param(line, pattern, id=label) for label, line, pattern in REJECTED],
)
def test_each_invalid_line_is_rejected_with_its_reason(
    shared: World, line: str | bytes, pattern: str
) -> None:
    got = shared.ingest(["", line])
    assert (got.accepted, got.duplicates) == (0, 0)
    assert [r.line for r in got.rejected] == [2]
    assert re.search(pattern, got.rejected[0].reason, re.IGNORECASE), got.rejected


ONE_OF_EACH_KIND = [
    case
    for case in REJECTED
    if case[0]
    in {
        "truncated JSON",
        "trailing comma",
        "NaN",
        "a list",
        "unknown type",
        "offset-less ts",
        "impossible day",
        "ts more than 5 minutes ahead",
        "missing id",
        "oversize id",
        "oversize impression_id",
        "unknown campaign",
        "unknown insertion",
        "insertion of another campaign",
        "unknown creative",
        "creative of another account",
        "unknown content",
        "oversize line",
        "invalid UTF-8",
    }
]


def test_rejections_never_stop_the_rest_and_name_their_lines(world: World) -> None:
    assert len(ONE_OF_EACH_KIND) == 19
    lines: list[str | bytes | dict[str, Any]] = []
    expected: list[tuple[int, str]] = []
    for n, (label, line, pattern) in enumerate(ONE_OF_EACH_KIND):
        lines.append(event(f"ok{n}", "click", "imp", insertion_id=I2))
        lines.append(line)
        expected.append((len(lines), pattern))
        if n % 3 == 0:
            lines.append("   ")  # blank lines are skipped, but keep their number
        if n % 5 == 0:
            lines.append("")
        assert label
    lines.append(event("last", "click", "imp", insertion_id=I2))
    got = world.ingest(lines)
    assert (got.accepted, got.duplicates) == (len(ONE_OF_EACH_KIND) + 1, 0)
    assert [r.line for r in got.rejected] == [n for n, _ in expected]
    for rejection, (_, pattern) in zip(got.rejected, expected, strict=True):
        assert re.search(pattern, rejection.reason, re.IGNORECASE), rejection
    assert nonzero(world.campaign(DAY)) == {
        "clicks": len(ONE_OF_EACH_KIND) + 1,
        "billables": len(ONE_OF_EACH_KIND) + 1,
    }


def test_a_rejected_event_does_not_take_its_id(world: World) -> None:
    first = world.ingest([raw(id="x1", type="impresion")])
    assert [r.line for r in first.rejected] == [1]
    assert world.ingest([raw(id="x1")]) == report(1, 0)
    assert world.campaign(DAY)["impressions"] == 1


def test_blank_lines_are_skipped_but_numbered(world: World) -> None:
    data = (
        b"\n"
        + ndjson([event("e1", "impression", "imp1")])
        + b"   \n\t\n\r\n"
        + b"{oops}\n"
        + b"\n"
        + ndjson([event("e2", "impression", "imp2")])
        + b"\n\n"
    )
    got = world.ingest_bytes(data)
    assert (got.accepted, got.duplicates) == (2, 0)
    assert [r.line for r in got.rejected] == [6]
    assert world.ingest_bytes(b"") == report(0, 0)
    assert world.ingest_bytes(b"\n\n  \n") == report(0, 0)


def test_a_timestamp_exactly_five_minutes_ahead_is_accepted(world: World) -> None:
    got = world.ingest(
        [
            event("e1", "click", "imp1", ts=FUTURE_OK),
            event("e2", "click", "imp1", ts="2023-06-01T12:05:00Z"),
            event("e3", "click", "imp1", ts="2023-06-01T12:05:00.000+00:00"),
            event("e4", "click", "imp1", ts=FUTURE_OK + 1),
            event("e5", "click", "imp1", ts="2023-06-01T12:05:00.001Z"),
        ]
    )
    assert (got.accepted, [r.line for r in got.rejected]) == (3, [4, 5])
    assert world.campaign(date(2023, 6, 1))["clicks"] == 3


def test_the_future_is_judged_by_the_clock_at_ingestion(world: World) -> None:
    late = event("e1", "click", "imp1", ts=NOW_MS + 3_600_000)
    assert [r.line for r in world.ingest([late]).rejected] == [1]
    world.now_ms = NOW_MS + 3_600_000
    assert world.ingest([late]) == report(1, 0)


@pytest.mark.parametrize(
    "ts",
    [
        "2023-01-10T12:00:00Z",
        "2023-01-10T12:00:00.250Z",
        "2023-01-10T12:00:00.123456789Z",
        "2023-01-10T14:00:00+02:00",
        "2023-01-10T07:00:00-05:00",
        "2023-01-10T12:00:00+00:00",
        "2023-01-10T12:00:00-00:00",
        "2023-01-10t12:00:00z",
        1673352000000,
    ],
)
def test_valid_timestamps_are_accepted(world: World, ts: str | int) -> None:
    assert world.ingest([event("e1", "click", "imp1", ts=ts)]) == report(1, 0)
    assert world.campaign(DAY)["clicks"] == 1


def test_ids_of_one_and_sixty_four_characters_are_valid(world: World) -> None:
    got = world.ingest(
        [
            event("x", "impression", "i"),
            event("y" * 64, "impression", "j" * 64),
            event("é" * 64, "impression", "ü" * 64),
        ]
    )
    assert got == report(3, 0)
    assert world.campaign(DAY)["impressions"] == 3


def test_content_is_optional_and_null_means_none(world: World) -> None:
    got = world.ingest(
        [
            event("e1", "impression", "imp1"),
            raw(id="e2", impression_id="imp2", content_id=K1),
            VALID[:-1] + ',"content_id":null}',
        ]
    )
    assert got == report(3, 0)
    rows = world.campaigns(DAY, campaign_id=C1, by_content=True)
    assert [(r["content_id"], r["content_name"], r["impressions"]) for r in rows] == [
        (K1, "Front page", 1),
        (None, None, 2),
    ]


def test_events_of_another_account_never_reach_this_one(world: World) -> None:
    world.ingest([event("e1", "impression", "imp1", insertion_id=I9, creative_id=R9)])
    assert world.campaigns(DAY) == []
    other = world.campaigns(DAY, account_id=A2)
    assert [(r["campaign_id"], r["impressions"]) for r in other] == [(C9, 1)]


# -- compaction ---------------------------------------------------------------------


def test_compaction_changes_no_answer(tmp_path: Path) -> None:
    catalog = standard_catalog(c1_budget="3")
    world = World(tmp_path / "db.duckdb", catalog)
    model = Model(catalog)
    kinds = [
        ("impression", I1),
        ("visible_impression", I1),
        ("click", I2),
        ("click", I2),
        ("video_start", I3),
        ("video_complete", I3),
    ]
    batches = [
        [
            event(
                f"b{b}e{n}",
                t,
                f"imp{n % 4}",
                ts=f"2023-01-{10 + n % 3}T12:00:00Z",
                insertion_id=ins,
                creative_id=R2 if ins == I3 else R1,
                content_id=[K1, K2, None][n % 3],
            )
            for n, (t, ins) in enumerate(kinds * 3)
        ]
        for b in range(4)
    ]
    for batch in batches:
        world.ingest(batch)
        model.ingest(batch)
    shapes: list[dict[str, Any]] = [
        {},
        {"by_day": True},
        {"by_insertion": True},
        {"by_day": True, "by_insertion": True, "by_content": True, "by_creative": True},
    ]
    first, last = date(2023, 1, 9), date(2023, 1, 13)
    before = [world.campaigns(first, last, **shape) for shape in shapes]
    for shape, rows in zip(shapes, before, strict=True):
        assert rows == model.campaign_rows(A1, first, last, **shape)
    # C1's budget (3.00) binds: in ingestion order 2 impressions (0.002 each) and
    # 5 clicks (0.50 each) fit, 2.504 in all; the 6th click would need 0.50 of
    # the 0.496 left. C2: 2 video starts of two impressions at 0.10.
    assert [(r["billables"], r["spent"]) for r in before[0]] == [(7, 2.5), (2, 0.2)]
    entities_before = world.entities("contents", first, last, by_day=True)
    world.store.compact()
    assert [world.campaigns(first, last, **shape) for shape in shapes] == before
    assert world.entities("contents", first, last, by_day=True) == entities_before
    # after compaction, replays are still duplicates and budgets still hold
    assert world.ingest(batches[0]) == report(0, len(batches[0]))
    extra = [event(f"x{n}", "click", "imp9", insertion_id=I2) for n in range(5)]
    world.ingest(extra)
    model.ingest(extra)
    world.store.compact()
    world.store.compact()
    for shape in shapes:
        assert world.campaigns(first, last, **shape) == model.campaign_rows(
            A1, first, last, **shape
        )
    world.close()
    # the answers survive reopening the file
    reopened = World(tmp_path / "db.duckdb")
    assert reopened.campaigns(first, last) == model.campaign_rows(A1, first, last)
    reopened.close()


def test_a_bad_json_reason_names_the_fault_and_its_place(shared: World) -> None:
    """As an operator reads it: what is wrong, then where, each said once."""
    tab = VALID.replace('"impression"', '"impre\tssion"')
    nan = VALID[:-1] + ',"score":NaN}'

    got = shared.ingest([tab, nan])

    assert [r.reason for r in got.rejected] == [
        f"bad JSON: Invalid control character at character {tab.index(chr(9)) + 1}",
        "bad JSON: NaN is not a JSON value",
    ]
