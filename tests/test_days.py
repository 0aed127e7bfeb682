"""Days (SPEC section 3): an event's date is its calendar day in the account's
timezone, following the zone's real offsets (23- and 25-hour days)."""

import json
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from support.model import Model
from support.world import (
    A1,
    C1,
    C2,
    I1,
    I2,
    I3,
    NOW_MS,
    R2,
    World,
    event,
    standard_catalog,
)

LATER_MS = 1735689600000  # 2025-01-01T00:00:00Z


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[World] = []

    def factory(timezone: str = "UTC") -> World:
        w = World(
            tmp_path / f"db{len(made)}.duckdb", standard_catalog(timezone=timezone)
        )
        w.now_ms = LATER_MS  # every event of these tests is in the past
        made.append(w)
        return w

    yield factory
    for w in made:
        w.close()


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


def d(text: str) -> date:
    return date.fromisoformat(text)


def per_day(world: World, first: str, last: str) -> list[tuple[str, int]]:
    rows = world.campaigns(d(first), d(last), campaign_id=C1, by_day=True)
    return [(r["date"], r["impressions"]) for r in rows]


def expected_per_day(
    cases: list[tuple[str | int, str]], first: str, last: str
) -> list[tuple[str, int]]:
    counts = Counter(day for _, day in cases)
    span = (d(last) - d(first)).days + 1
    days = [(d(first) + timedelta(days=n)).isoformat() for n in range(span)]
    return [(day, counts[day]) for day in days]


# (timezone, [(ts, local day it must land on)])
BOUNDARIES: list[tuple[str, list[tuple[str | int, str]]]] = [
    (
        # DST starts 2023-03-26 at 02:00 local (01:00Z): a 23-hour day
        "Europe/Paris",
        [
            ("2023-03-25T22:59:59.999Z", "2023-03-25"),  # 23:59:59.999 +01
            ("2023-03-25T23:30:00+01:00", "2023-03-25"),
            ("2023-03-25T23:00:00Z", "2023-03-26"),  # local midnight
            ("2023-03-26T00:00:00+01:00", "2023-03-26"),  # the same instant
            ("2023-03-26T00:30:00+01:00", "2023-03-26"),
            ("2023-03-26T01:59:59Z", "2023-03-26"),  # 03:59:59 +02
            ("2023-03-26T23:30:00+02:00", "2023-03-26"),
            ("2023-03-26T21:59:59.999Z", "2023-03-26"),  # 23:59:59.999 +02
            ("2023-03-26T22:00:00Z", "2023-03-27"),  # local midnight
            ("2023-03-27T00:30:00+02:00", "2023-03-27"),
            (ms("2023-03-26T00:30:00+00:00"), "2023-03-26"),  # 01:30 +01
            (ms("2023-03-26T21:30:00+00:00"), "2023-03-26"),  # 23:30 +02
        ],
    ),
    (
        # DST ends 2023-10-29 at 03:00 local (01:00Z): a 25-hour day
        "Europe/Paris",
        [
            ("2023-10-28T21:59:59Z", "2023-10-28"),
            ("2023-10-28T23:30:00+02:00", "2023-10-28"),
            ("2023-10-28T22:00:00Z", "2023-10-29"),  # local midnight
            ("2023-10-29T00:30:00+02:00", "2023-10-29"),
            ("2023-10-29T02:30:00+02:00", "2023-10-29"),  # 02:30, first time
            ("2023-10-29T02:30:00+01:00", "2023-10-29"),  # 02:30, second time
            ("2023-10-29T23:30:00+01:00", "2023-10-29"),
            ("2023-10-29T22:59:59.999Z", "2023-10-29"),  # 23:59:59.999 +01
            ("2023-10-29T23:00:00Z", "2023-10-30"),  # local midnight
            (ms("2023-10-29T22:30:00+00:00"), "2023-10-29"),  # 23:30 +01
        ],
    ),
    (
        # DST starts 2023-03-12 at 02:00 local (07:00Z)
        "America/New_York",
        [
            ("2023-03-12T04:59:59Z", "2023-03-11"),
            ("2023-03-11T23:30:00-05:00", "2023-03-11"),
            ("2023-03-12T05:00:00Z", "2023-03-12"),  # local midnight
            ("2023-03-12T00:30:00-05:00", "2023-03-12"),
            ("2023-03-12T03:30:00-04:00", "2023-03-12"),
            ("2023-03-12T23:30:00-04:00", "2023-03-12"),
            ("2023-03-13T03:59:59.999Z", "2023-03-12"),  # 23:59:59.999 -04
            ("2023-03-13T04:00:00Z", "2023-03-13"),  # local midnight
            (ms("2023-03-13T03:30:00+00:00"), "2023-03-12"),  # 23:30 -04
        ],
    ),
    (
        # DST ends 2023-11-05 at 02:00 local (06:00Z)
        "America/New_York",
        [
            ("2023-11-05T03:59:59Z", "2023-11-04"),
            ("2023-11-05T04:00:00Z", "2023-11-05"),  # local midnight
            ("2023-11-05T00:30:00-04:00", "2023-11-05"),
            ("2023-11-05T01:30:00-04:00", "2023-11-05"),  # 01:30, first time
            ("2023-11-05T01:30:00-05:00", "2023-11-05"),  # 01:30, second time
            ("2023-11-05T23:30:00-05:00", "2023-11-05"),
            ("2023-11-06T04:59:59.999Z", "2023-11-05"),
            ("2023-11-06T05:00:00Z", "2023-11-06"),  # local midnight
            (ms("2023-11-06T04:30:00+00:00"), "2023-11-05"),  # 23:30 -05
        ],
    ),
    (
        "Asia/Kolkata",  # +05:30 all year
        [
            ("2023-01-09T18:29:59.999Z", "2023-01-09"),
            ("2023-01-09T18:30:00Z", "2023-01-10"),  # local midnight
            ("2023-01-10T00:00:00+05:30", "2023-01-10"),
            ("2023-01-10T00:30:00+05:30", "2023-01-10"),
            ("2023-01-10T23:30:00+05:30", "2023-01-10"),
            ("2023-01-10T18:29:59Z", "2023-01-10"),
            ("2023-01-10T18:30:00Z", "2023-01-11"),
            ("2023-01-10T10:00:00-05:00", "2023-01-10"),  # 20:30 local
            (ms("2023-01-10T19:00:00+00:00"), "2023-01-11"),  # 00:30 local
        ],
    ),
    (
        "Pacific/Kiritimati",  # +14:00: a day ahead of UTC
        [
            ("2023-01-10T09:59:59Z", "2023-01-10"),
            ("2023-01-10T10:00:00Z", "2023-01-11"),
            (ms("2023-01-10T10:00:00+00:00"), "2023-01-11"),
        ],
    ),
    (
        "Pacific/Pago_Pago",  # -11:00: a day behind
        [
            ("2023-01-10T10:59:59Z", "2023-01-09"),
            ("2023-01-10T11:00:00Z", "2023-01-10"),
            (ms("2023-01-10T10:00:00+00:00"), "2023-01-09"),
        ],
    ),
    (
        "UTC",
        [
            ("2023-01-10T01:00:00+02:00", "2023-01-09"),  # 23:00Z
            ("2023-01-09T20:00:00-05:00", "2023-01-10"),  # 01:00Z
            ("2023-01-10T00:00:00Z", "2023-01-10"),
            ("2023-01-10T23:59:59.999+00:00", "2023-01-10"),
            ("2023-01-10T21:59:59-02:00", "2023-01-10"),
            ("2023-01-10T22:00:00-02:00", "2023-01-11"),
            (ms("2023-01-10T00:00:00+00:00"), "2023-01-10"),
            (ms("2023-01-10T00:00:00+00:00") - 1, "2023-01-09"),
        ],
    ),
]


@pytest.mark.parametrize(
    ("timezone", "cases"),
    [pytest.param(tz, cases, id=f"{tz}-{cases[0][1][:7]}") for tz, cases in BOUNDARIES],
)
def test_events_land_on_their_local_day(
    make: Any, timezone: str, cases: list[tuple[str | int, str]]
) -> None:
    world = make(timezone)
    lines = [
        event(f"e{n}", "impression", f"imp{n}", ts) for n, (ts, _) in enumerate(cases)
    ]
    assert world.ingest(lines).accepted == len(cases)
    days = sorted(day for _, day in cases)
    first = (d(days[0]) - timedelta(days=1)).isoformat()
    last = (d(days[-1]) + timedelta(days=1)).isoformat()
    assert per_day(world, first, last) == expected_per_day(cases, first, last)
    # each event on its own: a one-day query finds it on its day only
    for n, (_, day) in enumerate(cases):
        row = world.campaigns(d(day), campaign_id=C1, by_insertion=True)
        assert row[0]["impressions"] == Counter(x for _, x in cases)[day], n


@pytest.mark.parametrize(
    ("timezone", "days", "hours"),
    [
        ("Europe/Paris", ["2023-03-25", "2023-03-26", "2023-03-27"], [24, 23, 24]),
        ("Europe/Paris", ["2023-10-28", "2023-10-29", "2023-10-30"], [24, 25, 24]),
        ("America/New_York", ["2023-03-11", "2023-03-12", "2023-03-13"], [24, 23, 24]),
        ("America/New_York", ["2023-11-04", "2023-11-05", "2023-11-06"], [24, 25, 24]),
        ("Asia/Kolkata", ["2023-01-09", "2023-01-10", "2023-01-11"], [24, 24, 24]),
        (
            "Australia/Lord_Howe",
            ["2023-04-01", "2023-04-02", "2023-04-03"],
            [24, 24.5, 24],
        ),
    ],
)
def test_days_hold_exactly_their_hours_of_events(
    make: Any, timezone: str, days: list[str], hours: list[float]
) -> None:
    """One event every 15 minutes for five UTC days around the change: each
    local day holds 4 events per hour it lasts."""
    world = make(timezone)
    start = datetime.fromisoformat(days[0]).replace(tzinfo=UTC) - timedelta(days=1)
    lines = [
        event(
            f"e{n}",
            "impression",
            f"imp{n}",
            int((start + timedelta(minutes=15 * n)).timestamp() * 1000),
        )
        for n in range(5 * 96)
    ]
    assert world.ingest(lines).accepted == 480
    assert per_day(world, days[0], days[-1]) == [
        (day, int(4 * h)) for day, h in zip(days, hours, strict=True)
    ]


def test_an_account_without_a_timezone_counts_days_in_utc(tmp_path: Path) -> None:
    catalog = standard_catalog()
    del catalog["accounts"][0]["timezone"]
    world = World(tmp_path / "db.duckdb", catalog)
    world.ingest(
        [
            event("e1", "impression", "i1", "2023-01-10T23:59:59Z"),
            event("e2", "impression", "i2", "2023-01-11T00:30:00+01:00"),
        ]
    )
    assert world.account().timezone == "UTC"
    assert per_day(world, "2023-01-10", "2023-01-11") == [
        ("2023-01-10", 2),
        ("2023-01-11", 0),
    ]
    world.close()


def test_by_day_fills_every_day_of_the_range_with_zeros(make: Any) -> None:
    world = make("Europe/Paris")
    lines = [
        event("a", "impression", "ia", "2023-03-26T00:30:00+01:00"),
        event("b", "click", "ia", "2023-03-28T12:00:00Z", insertion_id=I2),
        event("c", "impression", "ic", "2023-03-20T12:00:00Z"),  # out of range
        event(
            "v",
            "video_start",
            "iv",
            "2023-03-27T08:00:00Z",
            insertion_id=I3,
            creative_id=R2,
        ),
    ]
    world.ingest(lines)
    model = Model(standard_catalog(timezone="Europe/Paris"))
    model.ingest(lines)
    first, last = d("2023-03-24"), d("2023-03-30")
    one = world.campaigns(first, last, campaign_id=C1, by_day=True)
    assert one == model.campaign_rows(A1, first, last, campaign_id=C1, by_day=True)
    assert [(r["date"], r["impressions"], r["clicks"], r["spent"]) for r in one] == [
        ("2023-03-24", 0, 0, 0.0),
        ("2023-03-25", 0, 0, 0.0),
        ("2023-03-26", 1, 0, 0.0),
        ("2023-03-27", 0, 0, 0.0),
        ("2023-03-28", 0, 1, 0.5),
        ("2023-03-29", 0, 0, 0.0),
        ("2023-03-30", 0, 0, 0.0),
    ]
    assert all(list(r)[:3] == ["date", "campaign_id", "campaign_name"] for r in one)
    # every listed campaign gets every day, ordered by date then campaign
    both = world.campaigns(first, last, by_day=True)
    assert both == model.campaign_rows(A1, first, last, by_day=True)
    assert [(r["date"], r["campaign_id"]) for r in both] == [
        (day, campaign)
        for day in [f"2023-03-{n}" for n in range(24, 31)]
        for campaign in (C1, C2)
    ]
    # a campaign with no event in the range is not listed, but its own request
    # still has one row per day
    only_c1 = world.campaigns(d("2023-03-28"), d("2023-03-29"), by_day=True)
    assert [(r["date"], r["campaign_id"]) for r in only_c1] == [
        ("2023-03-28", C1),
        ("2023-03-29", C1),
    ]
    c2 = world.campaigns(d("2023-03-28"), d("2023-03-29"), campaign_id=C2, by_day=True)
    assert [(r["date"], r["video_start"]) for r in c2] == [
        ("2023-03-28", 0),
        ("2023-03-29", 0),
    ]


def test_by_day_with_a_breakdown_lists_only_days_with_events(make: Any) -> None:
    world = make()
    world.ingest(
        [
            event("a", "impression", "ia", "2023-01-10T12:00:00Z"),
            event("b", "impression", "ib", "2023-01-12T12:00:00Z", insertion_id=I2),
        ]
    )
    rows = world.campaigns(
        d("2023-01-09"), d("2023-01-13"), campaign_id=C1, by_day=True, by_insertion=True
    )
    assert [(r["date"], r["insertion_id"], r["impressions"]) for r in rows] == [
        ("2023-01-10", I1, 1),
        ("2023-01-12", I2, 1),
    ]
    # The entity family lists the insertions with events, each on every day
    # of the range, as its own request would (docs/API.md).
    entity_rows = world.entities(
        "insertions", d("2023-01-09"), d("2023-01-13"), by_day=True
    )
    days = ["2023-01-09", "2023-01-10", "2023-01-11", "2023-01-12", "2023-01-13"]
    assert [(r["date"], r["insertion_id"], r["impressions"]) for r in entity_rows] == [
        (
            day,
            insertion,
            int((day, insertion) in {("2023-01-10", I1), ("2023-01-12", I2)}),
        )
        for day in days
        for insertion in (I1, I2)
    ]


def test_a_single_day_without_by_day_sums_the_range(make: Any) -> None:
    world = make("America/New_York")
    world.ingest(
        [
            event(f"e{n}", "impression", f"i{n}", f"2023-11-0{n + 3}T12:00:00Z")
            for n in range(5)
        ]
    )
    assert world.campaign(d("2023-11-04"), date_to=d("2023-11-06"))["impressions"] == 3
    assert world.campaign(d("2023-11-08"))["impressions"] == 0


SCRIPT = """
import json, sys
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from support.world import NOW_MS, World, event, standard_catalog
world = World(Path(sys.argv[2]), standard_catalog())
report = world.ingest([
    event("now", "impression", "i1", NOW_MS),
    event("early", "impression", "i2", int(sys.argv[3])),
])
rows = world.campaigns(__import__("datetime").date(2023, 1, 10), by_day=True)
print(json.dumps({
    "accepted": report.accepted,
    "rejected": [r.reason for r in report.rejected],
    "days": [(r["date"], r["impressions"]) for r in rows],
}))
world.close()
"""


@pytest.mark.parametrize("process_timezone", ["America/New_York", "Asia/Kolkata"])
def test_epoch_milliseconds_do_not_depend_on_the_process_timezone(
    tmp_path: Path, process_timezone: str
) -> None:
    """Integer ts are instants: the host's TZ must change nothing."""
    tests_dir = str(Path(__file__).parent)
    early = ms("2023-01-10T02:00:00+00:00")  # 2023-01-10 in the UTC account
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            SCRIPT,
            tests_dir,
            str(tmp_path / "db.duckdb"),
            str(early),
        ],
        env={**os.environ, "TZ": process_timezone},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    got = json.loads(done.stdout)
    assert got == {"accepted": 2, "rejected": [], "days": [["2023-01-10", 1]]}
    assert ms("2023-06-01T12:00:00+00:00") == NOW_MS
