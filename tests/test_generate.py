"""The demo catalog and the traffic generator: deterministic, consistent with
the catalog, and honest in their summary about what they wrote."""

import datetime as dt
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from adstats.domain.billing import PRICING_MODELS
from adstats.domain.catalog import Catalog, merge_catalog
from adstats.domain.events import EVENT_TYPES
from adstats.errors import CatalogError
from adstats.generate.demo_catalog import demo_catalog
from adstats.generate.traffic import GenerateSummary, _DayClock, generate

END = dt.date(2024, 3, 31)  # daylight saving time starts in Paris
DAYS = 3
EVENTS = 12_000
RFC_3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)")
VIDEO_TYPES = {t for t in EVENT_TYPES if t.startswith("video_")}
PLACEMENT_KEYS = ("campaign_id", "insertion_id", "creative_id", "content_id")

Event = dict[str, Any]


def write(seed: int = 1, **options: Any) -> tuple[bytes, GenerateSummary]:
    out = io.BytesIO()
    defaults: dict[str, Any] = {
        "end": END,
        "days": DAYS,
        "events": EVENTS,
        "seed": seed,
    }
    summary = generate(demo_catalog(), out, **(defaults | options))
    return out.getvalue(), summary


@dataclass
class Sorted:
    """The lines of a traffic file, sorted the way ingestion would see them."""

    valid: list[Event] = field(default_factory=list)
    duplicates: int = 0
    invalid: Counter[str] = field(default_factory=Counter)


def sort_lines(data: bytes, catalog: Catalog) -> Sorted:
    result = Sorted()
    seen: dict[str, bytes] = {}
    for line in data.splitlines():
        try:
            event = orjson.loads(line)
        except orjson.JSONDecodeError:
            result.invalid["bad json"] += 1
            continue
        reason = invalid_reason(event, catalog)
        if reason:
            result.invalid[reason] += 1
        elif event["id"] in seen:
            assert seen[event["id"]] == line, "a reused id must be an exact retry"
            result.duplicates += 1
        else:
            seen[event["id"]] = line
            result.valid.append(event)
    return result


def invalid_reason(event: Event, catalog: Catalog) -> str | None:
    if event["type"] not in EVENT_TYPES:
        return "unknown type"
    if isinstance(event["ts"], str) and instant(event["ts"]).tzinfo is None:
        return "no offset"
    if event["campaign_id"] not in catalog.campaigns:
        return "unknown campaign"
    return None


def instant(ts: str | int) -> dt.datetime:
    if isinstance(ts, int):
        return dt.datetime.fromtimestamp(ts / 1000, tz=dt.UTC)
    return dt.datetime.fromisoformat(ts)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return merge_catalog(Catalog.empty(), demo_catalog())[0]


@pytest.fixture(scope="module")
def traffic() -> tuple[bytes, GenerateSummary]:
    return write()


@pytest.fixture(scope="module")
def lines(traffic: tuple[bytes, GenerateSummary], catalog: Catalog) -> Sorted:
    return sort_lines(traffic[0], catalog)


def test_demo_catalog_loads_whole() -> None:
    document = demo_catalog()
    _, changed = merge_catalog(Catalog.empty(), document)
    assert len(changed) == sum(len(items) for items in document.values())


def test_demo_catalog_is_deterministic_and_seeded() -> None:
    def ids(seed: int) -> set[object]:
        return {item["id"] for items in demo_catalog(seed).values() for item in items}

    assert demo_catalog(7) == demo_catalog(7)
    assert ids(7).isdisjoint(ids(8))
    assert all(re.fullmatch("[0-9a-f]{24}", str(i)) for i in ids(7))


def test_demo_catalog_shows_every_feature(catalog: Catalog) -> None:
    currencies = {a.currency for a in catalog.accounts.values()}
    insertions = catalog.insertions.values()
    names = "".join(c.name for c in catalog.contents.values())
    assert currencies == {"EUR", "JPY"}
    assert {i.pricing_model for i in insertions} == set(PRICING_MODELS)
    assert {c.format for c in catalog.creatives.values()} == {"display", "video"}
    assert {c.budget_nanos is None for c in catalog.campaigns.values()} == {True, False}
    assert {i.budget_nanos is None for i in insertions} == {True, False}
    assert len(catalog.contents) >= 40
    assert all(mark in names for mark in (",", '"', "«", "é"))
    assert any(ord(char) > 0xFFFF or 0x2600 <= ord(char) < 0x2800 for char in names)


def test_same_seed_same_bytes(traffic: tuple[bytes, GenerateSummary]) -> None:
    assert write(seed=1) == traffic
    assert write(seed=2)[0] != traffic[0]


def test_summary_counts_every_line(
    traffic: tuple[bytes, GenerateSummary], lines: Sorted
) -> None:
    data, summary = traffic
    assert data.endswith(b"\n")
    assert summary.lines == data.count(b"\n")
    assert summary.valid_events == len(lines.valid)
    assert summary.duplicates == lines.duplicates > 0
    assert summary.invalid == lines.invalid.total()
    assert summary.lines == summary.valid_events + summary.duplicates + summary.invalid


def test_every_kind_of_invalid_line_appears(catalog: Catalog) -> None:
    data, summary = write(invalid_rate=0.00001)
    kinds = {"bad json", "unknown type", "no offset", "unknown campaign"}
    assert set(sort_lines(data, catalog).invalid) == kinds
    assert summary.invalid == len(kinds)


def test_invalid_lines_have_ids_of_their_own(
    traffic: tuple[bytes, GenerateSummary], lines: Sorted, catalog: Catalog
) -> None:
    valid_ids = {event["id"] for event in lines.valid}
    invalid_ids = []
    for line in traffic[0].splitlines():
        if line.startswith(b"{") and line.endswith(b"}"):
            event = orjson.loads(line)
            if invalid_reason(event, catalog):
                invalid_ids.append(event["id"])
    assert len(set(invalid_ids)) == len(invalid_ids) > 0
    assert valid_ids.isdisjoint(invalid_ids)


def test_lines_number_about_what_was_asked(
    traffic: tuple[bytes, GenerateSummary],
) -> None:
    assert abs(traffic[1].lines - EVENTS) <= EVENTS // 10


def test_valid_events_match_the_catalog(lines: Sorted, catalog: Catalog) -> None:
    keys = ["id", "type", "ts", "impression_id", "campaign_id", "insertion_id"]
    for event in lines.valid:
        campaign = catalog.campaigns[event["campaign_id"]]
        insertion = catalog.insertions[event["insertion_id"]]
        creative = catalog.creatives[event["creative_id"]]
        assert list(event)[:6] == keys
        assert insertion.campaign_id == campaign.id
        assert creative.account_id == campaign.account_id
        assert event.get("content_id", next(iter(catalog.contents))) in catalog.contents
        assert 1 <= len(event["id"]) <= 64 and 1 <= len(event["impression_id"]) <= 64
    with_content = sum("content_id" in event for event in lines.valid)
    assert 0.9 < with_content / len(lines.valid) < 0.99


def test_timestamps_fall_on_the_requested_days(lines: Sorted, catalog: Catalog) -> None:
    first = END - dt.timedelta(days=DAYS - 1)
    styles: Counter[str] = Counter()
    for event in lines.valid:
        ts = event["ts"]
        account = catalog.accounts[catalog.campaigns[event["campaign_id"]].account_id]
        zone = ZoneInfo(account.timezone)
        moment = instant(ts)
        assert first <= moment.astimezone(zone).date() <= END
        if isinstance(ts, str):
            assert RFC_3339.fullmatch(ts), ts
            # An offset, when given, is the account's own at that moment.
            assert ts.endswith("Z") or moment.utcoffset() == zone.utcoffset(moment)
        if isinstance(ts, int):
            styles["epoch"] += 1
        else:
            styles["utc" if ts.endswith("Z") else "offset"] += 1
    assert styles["utc"] > styles["offset"] > styles["epoch"] > 0


def test_the_last_day_ends_at_its_midnight() -> None:
    # A view late on the last day must not spill its clicks into the next one.
    paris = ZoneInfo("Europe/Paris")
    clock = _DayClock(paris, END, last_day=True)
    midnight = dt.datetime.combine(END + dt.timedelta(days=1), dt.time(), paris)
    assert clock.limit_ms == midnight.timestamp() * 1000 - 1
    assert len(clock.hours) == 23


def test_views_go_down_a_funnel(lines: Sorted, catalog: Catalog) -> None:
    views: dict[str, list[Event]] = {}
    for event in lines.valid:
        views.setdefault(event["impression_id"], []).append(event)
    types = Counter(event["type"] for event in lines.valid)
    for events in views.values():
        placement = {tuple(e.get(k) for k in PLACEMENT_KEYS) for e in events}
        kinds = Counter(e["type"] for e in events)
        creative = catalog.creatives[events[0]["creative_id"]]
        assert len(placement) == 1
        assert kinds["impression"] == 1
        assert creative.format == "video" or not VIDEO_TYPES & set(kinds)
    assert 0.55 < types["visible_impression"] / types["impression"] < 0.75
    assert types["video_complete"] < types["video_start"] < types["video_impression"]
    assert types["engagement"] > 0 and types["click"] > 0


def test_creatives_suit_their_campaign_and_insertion(
    lines: Sorted, catalog: Catalog
) -> None:
    formats: dict[str, set[str]] = {}
    for event in lines.valid:
        campaign = catalog.campaigns[event["campaign_id"]]
        creative = catalog.creatives[event["creative_id"]]
        advertiser = catalog.advertisers[campaign.advertiser_id]
        assert creative.name.startswith(advertiser.name)
        formats.setdefault(event["insertion_id"], set()).add(creative.format)
    video_models = {"cpv", "cpcv"}
    for insertion_id, shown in formats.items():
        video_model = catalog.insertions[insertion_id].pricing_model in video_models
        assert shown == {"video"} if video_model else "display" in shown
    assert any(len(shown) == 2 for shown in formats.values())


def test_campaigns_get_very_different_traffic(lines: Sorted) -> None:
    per_campaign = Counter(event["campaign_id"] for event in lines.valid)
    assert max(per_campaign.values()) > 5 * min(per_campaign.values())


def test_no_extra_lines_when_rates_are_zero(catalog: Catalog) -> None:
    data, summary = write(events=2000, duplicate_rate=0, invalid_rate=0)
    assert summary.duplicates == summary.invalid == 0
    assert summary.lines == len(sort_lines(data, catalog).valid)


@pytest.mark.parametrize(
    "options",
    [{"days": 0}, {"events": -1}, {"invalid_rate": 0.5}, {"duplicate_rate": -0.1}],
)
def test_bad_arguments_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(options))):
        write(**options)


def test_a_broken_catalog_is_refused() -> None:
    document = demo_catalog()
    document["insertions"][0]["campaign_id"] = "f" * 24
    with pytest.raises(CatalogError, match="insertions"):
        generate(document, io.BytesIO(), end=END, days=1, events=10, seed=1)
