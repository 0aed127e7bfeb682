"""Campaign and entity statistics over HTTP, from a real `adstats serve`.

Every expected number below is worked out by hand from the events of this
module (see EVENTS). Account A lives in Europe/Paris (UTC+1 in March 2024), so
events near midnight UTC land on the next or previous local day.
"""

import csv
import io
import itertools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pandas
import pytest

import adstats
from e2e import (
    CAMPAIGN_METRICS,
    COUNTERS,
    ENTITY_METRICS,
    ENTITY_TO_CAMPAIGN_METRIC,
    CatalogBuilder,
    Placement,
    Row,
    ServerProcess,
    assert_metric_types,
    entity_metrics_of,
    exact,
    ident,
    metrics,
    ndjson,
    prepare_db,
    run_cli,
)

# -- the catalog ----------------------------------------------------------------

ACC_A, ACC_B = ident("a0", 1), ident("a0", 2)
ACC_EAST, ACC_WEST = ident("a0", 3), ident("a0", 4)
ADV_A1, ADV_A2, ADV_B = ident("ad", 1), ident("ad", 2), ident("ad", 3)
ADV_R, ADV_EAST, ADV_WEST = ident("ad", 4), ident("ad", 5), ident("ad", 6)
# Ids are chosen so that id order differs from name and event order.
C2, C1, C3, CR = ident("c0", 1), ident("c0", 2), ident("c0", 3), ident("c0", 4)
C_EAST, C_WEST, CB = ident("c0", 5), ident("c0", 6), ident("c0", 9)
I2, I1, I3, I5 = ident("e0", 4), ident("e0", 5), ident("e0", 6), ident("e0", 7)
I4, IB, IR = ident("e0", 8), ident("e0", 9), ident("e0", 10)
I_EAST, I_WEST = ident("e0", 11), ident("e0", 12)
T2, T1, T3, TR = ident("d0", 1), ident("d0", 2), ident("d0", 3), ident("d0", 4)
K2, K1, K3, KR = ident("f0", 1), ident("f0", 2), ident("f0", 3), ident("f0", 4)
KB, K_EAST, K_WEST = ident("f0", 9), ident("f0", 10), ident("f0", 11)

C1_NAME = 'Spring, "Printemps"'  # a comma and quotes, for the CSV
EAST_TZ, WEST_TZ = "Pacific/Kiritimati", "Pacific/Pago_Pago"  # UTC+14, UTC-11


def build_catalog() -> CatalogBuilder:
    cat = CatalogBuilder()
    cat.account(ACC_A, "Compte A", "EUR", "Europe/Paris")
    cat.account(ACC_B, "Account B", "USD", "UTC")
    cat.account(ACC_EAST, "East", "EUR", EAST_TZ)
    cat.account(ACC_WEST, "West", "USD", WEST_TZ)
    cat.advertiser(ADV_A1, ACC_A, "Annonceur Été")
    cat.advertiser(ADV_A2, ACC_A, "Annonceur Deux")
    cat.advertiser(ADV_R, ACC_A, "Old advertiser name")
    cat.advertiser(ADV_B, ACC_B, "Advertiser B")
    cat.advertiser(ADV_EAST, ACC_EAST, "Advertiser East")
    cat.advertiser(ADV_WEST, ACC_WEST, "Advertiser West")
    cat.campaign(C1, ACC_A, ADV_A1, C1_NAME)
    cat.campaign(C2, ACC_A, ADV_A2, "Autumn")
    cat.campaign(C3, ACC_A, ADV_A1, "Idle")
    cat.campaign(CR, ACC_A, ADV_R, "Old campaign name")
    cat.campaign(CB, ACC_B, ADV_B, "Campaign B")
    cat.campaign(C_EAST, ACC_EAST, ADV_EAST, "Campaign East")
    cat.campaign(C_WEST, ACC_WEST, ADV_WEST, "Campaign West")
    cat.insertion(I1, C1, "Display CPM", "cpm", "10.00")  # 0.01 per impression
    cat.insertion(I2, C1, "Video CPC", "cpc", "0.50")  # 0.50 per click
    cat.insertion(I5, C1, "Unused insertion", "cpm", "1.00")
    cat.insertion(I3, C2, "Autumn CPE", "cpe", "0.25")  # 0.25 per engagement
    cat.insertion(I4, C3, "Idle insertion", "cpm", "1.00")
    cat.insertion(IR, CR, "Old insertion name", "cpc", "1.00")
    cat.insertion(IB, CB, "Insertion B", "cpm", "10.00")
    cat.insertion(I_EAST, C_EAST, "Insertion East", "cpm", "10.00")
    cat.insertion(I_WEST, C_WEST, "Insertion West", "cpm", "10.00")
    cat.content(T1, "Article Two")
    cat.content(T2, 'Home\npage 🎉, "live"')
    cat.content(T3, "Unused page")
    cat.content(TR, "Old content name")
    cat.creative(K1, ACC_A, "Banner 📣", "display")
    cat.creative(K2, ACC_A, "Spot", "video")
    cat.creative(K3, ACC_A, "Unused creative", "display")
    cat.creative(KR, ACC_A, "Old creative name", "display")
    cat.creative(KB, ACC_B, "Creative B", "display")
    cat.creative(K_EAST, ACC_EAST, "Creative East", "display")
    cat.creative(K_WEST, ACC_WEST, "Creative West", "display")
    return cat


CATALOG = build_catalog()
NAMES: dict[str, str] = {
    item["id"]: item["name"] for items in CATALOG.document().values() for item in items
}
ADVERTISER_OF = {c["id"]: c["advertiser_id"] for c in CATALOG.campaigns}

# -- the events -----------------------------------------------------------------

A1 = Placement(C1, I1, K1, T1)  # impression a1
A2 = Placement(C1, I1, K1, T2)  # a2
A3 = Placement(C1, I2, K2)  # a3: no content
A4 = Placement(C1, I1, K2, T1)  # a4
A5 = Placement(C1, I2, K2, T2)  # a5
B1 = Placement(C2, I3, K1, T1)  # b1
X1 = Placement(CB, IB, KB, T1)  # account B, same content T1
R1 = Placement(CR, IR, KR, TR)  # the campaign renamed in a test


def epoch_ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


EVENTS: list[dict[str, Any]] = [
    # 2024-03-01 in Paris
    A1.event("e01", "impression", "2024-03-01T08:00:00Z", "a1"),
    A1.event("e02", "visible_impression", "2024-03-01T08:00:01Z", "a1"),
    A1.event("e03", "engagement", "2024-03-01T08:00:02Z", "a1"),
    A1.event("e04", "click", "2024-03-01T08:00:03Z", "a1"),
    A1.event("e05", "click", "2024-03-01T08:00:04Z", "a1"),  # clicks count each
    A1.event("e06", "impression", "2024-03-01T08:00:05Z", "a1"),  # same view: once
    A1.event("e01", "impression", "2024-03-01T08:00:00Z", "a1"),  # duplicate id
    A2.event("e07", "impression", "2024-03-01T09:00:00Z", "a2"),
    A2.event("e08", "visible_impression", "2024-03-01T09:00:01Z", "a2"),
    A3.event("e09", "impression", "2024-03-01T11:00:00+01:00", "a3"),
    A3.event("e10", "video_impression", "2024-03-01T10:00:01Z", "a3"),
    A3.event("e11", "video_visible_impression", "2024-03-01T10:00:02Z", "a3"),
    A3.event("e12", "video_start", epoch_ms("2024-03-01T10:00:03+00:00"), "a3"),
    A3.event("e13", "video_first_quartile", "2024-03-01T10:00:04Z", "a3"),
    A3.event("e14", "video_midpoint", "2024-03-01T10:00:05Z", "a3"),
    A3.event("e15", "video_third_quartile", "2024-03-01T10:00:06Z", "a3"),
    A3.event("e16", "click", "2024-03-01T10:00:07Z", "a3"),
    # 23:30 UTC on Feb 29 is 00:30 on March 1 in Paris
    A4.event("e17", "impression", "2024-02-29T23:30:00Z", "a4"),
    # 2024-03-02 in Paris (23:30 UTC on March 1 is 00:30 on March 2)
    A5.event("e18", "impression", "2024-03-01T23:30:00Z", "a5"),
    A5.event("e19", "video_impression", "2024-03-01T23:30:01Z", "a5"),
    A5.event("e20", "video_start", "2024-03-01T23:30:02Z", "a5"),
    A5.event("e21", "video_complete", "2024-03-01T23:30:30Z", "a5"),
    A5.event("e22", "video_start", "2024-03-01T23:30:31Z", "a5"),  # once
    A5.event("e23", "vote", "2024-03-02T08:00:00Z", "a5"),
    A5.event("e24", "vote", "2024-03-02T08:00:01Z", "a5"),
    A5.event("e25", "form_submission", "2024-03-02T08:00:02Z", "a5"),
    A5.event("e26", "optin_submission", "2024-03-02T08:00:03Z", "a5"),
    A5.event("e27", "visible_impression", "2024-03-02T08:00:04Z", "a5"),
    A5.event("e28", "click", "2024-03-02T08:00:05Z", "a5"),
    # outside 2024-03-01..03 in Paris: 00:30 on March 4 and 23:30 on Feb 29
    A1.event("e29", "impression", "2024-03-03T23:30:00Z", "a6"),
    A1.event("e30", "impression", "2024-02-29T22:30:00Z", "a7"),
    # campaign C2 on 2024-03-02
    B1.event("e31", "impression", "2024-03-02T12:00:00Z", "b1"),
    B1.event("e32", "visible_impression", "2024-03-02T12:00:01Z", "b1"),
    B1.event("e33", "engagement", "2024-03-02T12:00:02Z", "b1"),
    B1.event("e34", "engagement", "2024-03-02T12:00:03Z", "b1"),  # once
    # account B on 2024-03-02
    X1.event("e35", "impression", "2024-03-02T12:00:00Z", "x1"),
    X1.event("e36", "visible_impression", "2024-03-02T12:00:01Z", "x1"),
    X1.event("e37", "click", "2024-03-02T12:00:02Z", "x1"),
    # the campaign renamed later, in May
    R1.event("e38", "impression", "2024-05-10T12:00:00Z", "r1"),
    R1.event("e39", "click", "2024-05-10T12:00:01Z", "r1"),
]

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-03"}

# -- expected rows, by hand -------------------------------------------------------

C1_TOTAL = metrics(impressions=5, visible_impressions=3, engagements=1, votes=2,
                   clicks=4, click_through_rate=1.333333, form_submissions=1,
                   optin_submissions=1, video_impressions=2,
                   video_visible_impressions=1, video_start=2, video_first_quartile=1,
                   video_midpoint=1, video_third_quartile=1, video_complete=1,
                   video_complete_rate=0.5, billables=5, spent=1.03)  # fmt: skip
C1_DAY1 = metrics(impressions=4, visible_impressions=2, engagements=1, clicks=3,
                  click_through_rate=1.5, video_impressions=1,
                  video_visible_impressions=1, video_start=1, video_first_quartile=1,
                  video_midpoint=1, video_third_quartile=1, billables=4,
                  spent=0.53)  # fmt: skip
C1_DAY2 = metrics(impressions=1, visible_impressions=1, votes=2, clicks=1,
                  click_through_rate=1.0, form_submissions=1, optin_submissions=1,
                  video_impressions=1, video_start=1, video_complete=1,
                  video_complete_rate=1.0, billables=1, spent=0.5)  # fmt: skip
C2_TOTAL = metrics(impressions=1, visible_impressions=1, engagements=1,
                   billables=1, spent=0.25)  # fmt: skip
ZEROS = metrics()

_MISSING = object()


def crow(
    campaign: str,
    measures: Row,
    *,
    day: str | None = None,
    insertion: str | None = None,
    content: object = _MISSING,
    creative: str | None = None,
) -> Row:
    """An expected /api/campaigns row, its fields in the SPEC's order."""
    row: Row = {} if day is None else {"date": day}
    row |= {"campaign_id": campaign, "campaign_name": NAMES[campaign]}
    if insertion is not None:
        row |= {"insertion_id": insertion, "insertion_name": NAMES[insertion]}
    if content is not _MISSING:
        assert content is None or isinstance(content, str)
        row |= {
            "content_id": content,
            "content_name": None if content is None else NAMES[content],
        }
    if creative is not None:
        row |= {"creative_id": creative, "creative_name": NAMES[creative]}
    advertiser = ADVERTISER_OF[campaign]
    row |= {"advertiser_id": advertiser, "advertiser_name": NAMES[advertiser]}
    return row | measures


def erow(kind: str, entity_id: str, measures: Row, day: str | None = None) -> Row:
    """An expected /api/stats row from campaign-family measures."""
    row: Row = {} if day is None else {"date": day}
    row |= {f"{kind}_id": entity_id, f"{kind}_name": NAMES[entity_id]}
    return row | entity_metrics_of(measures)


# -- the server -------------------------------------------------------------------


@dataclass
class World:
    server: ServerProcess
    http: httpx.Client
    db: Path
    keys: dict[str, str]  # account id -> secret
    yesterday: dict[str, date]  # account id -> yesterday in its timezone

    def get(self, path: str, account: str = ACC_A, **params: str) -> httpx.Response:
        return self.http.get(path, params={"api_key": self.keys[account], **params})

    def rows(self, path: str, account: str = ACC_A, **params: str) -> list[Row]:
        response = self.get(path, account, **params)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        rows: list[Row] = response.json()
        return rows


def recent_events(account_tz: str, placement: Placement, tag: str) -> list[Any]:
    """Events on the day before yesterday, yesterday and today, local time."""
    today = datetime.now(ZoneInfo(account_tz)).date()
    events = []
    for offset, count in ((2, 1), (1, 2), (0, 4)):
        day = today - timedelta(days=offset)
        start = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(account_tz))
        for n in range(count):
            name = f"{tag}-{offset}-{n}"
            ts = (start + timedelta(seconds=n)).isoformat()
            events.append(placement.event(name, "impression", ts, name))
    return events


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("t2-campaigns") / "stats.duckdb"
    recent = recent_events(EAST_TZ, Placement(C_EAST, I_EAST, K_EAST), "east")
    recent += recent_events(WEST_TZ, Placement(C_WEST, I_WEST, K_WEST), "west")
    prepared = prepare_db(
        db,
        CATALOG.document(),
        [ndjson(EVENTS), ndjson(recent)],
        [(ACC_A, "key A"), (ACC_B, "key B"), (ACC_EAST, "east"), (ACC_WEST, "west")],
    )
    assert prepared.reports[0] == {"accepted": 39, "duplicates": 1, "rejected": []}
    assert prepared.reports[1] == {"accepted": 14, "duplicates": 0, "rejected": []}
    yesterday = {
        account: datetime.now(ZoneInfo(tz)).date() - timedelta(days=1)
        for account, tz in ((ACC_EAST, EAST_TZ), (ACC_WEST, WEST_TZ))
    }
    server = ServerProcess(db).start()
    keys = {
        ACC_A: prepared.secrets["key A"],
        ACC_B: prepared.secrets["key B"],
        ACC_EAST: prepared.secrets["east"],
        ACC_WEST: prepared.secrets["west"],
    }
    try:
        with server.client() as http:
            yield World(server, http, db, keys, yesterday)
    finally:
        server.stop()


# -- GET /api ---------------------------------------------------------------------


def test_service_answers_its_name_and_version(world: World) -> None:
    response = world.http.get("/api")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"name": "adstats", "version": adstats.__version__}


# -- one campaign -----------------------------------------------------------------


def test_campaign_without_breakdowns_is_one_row(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", **MARCH)

    assert rows == [crow(C1, C1_TOTAL)]
    assert list(rows[0]) == ["campaign_id", "campaign_name", "advertiser_id",
                             "advertiser_name", *CAMPAIGN_METRICS]  # fmt: skip
    assert_metric_types(rows[0], CAMPAIGN_METRICS)


def test_idle_campaign_is_one_row_of_zeros(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C3}", **MARCH)

    assert rows == [crow(C3, ZEROS)]
    assert_metric_types(rows[0], CAMPAIGN_METRICS)


def test_campaign_active_only_outside_the_range_is_one_row_of_zeros(
    world: World,
) -> None:
    assert world.rows(f"/api/campaigns/{CR}", **MARCH) == [crow(CR, ZEROS)]


def test_by_day_gives_every_day_of_the_range_zeros_included(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_day="true", **MARCH)

    assert rows == [
        crow(C1, C1_DAY1, day="2024-03-01"),
        crow(C1, C1_DAY2, day="2024-03-02"),
        crow(C1, ZEROS, day="2024-03-03"),
    ]
    assert list(rows[0])[:3] == ["date", "campaign_id", "campaign_name"]


def test_by_day_of_an_idle_campaign_is_all_zeros(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C3}", by_day="1", **MARCH)

    assert rows == [
        crow(C3, ZEROS, day=day) for day in ("2024-03-01", "2024-03-02", "2024-03-03")
    ]


def test_days_follow_the_account_timezone(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_day="true",
                      date_from="2024-02-29", date_to="2024-03-04")  # fmt: skip

    assert [(r["date"], r["impressions"]) for r in rows] == [
        ("2024-02-29", 1),  # 22:30 UTC
        ("2024-03-01", 4),  # 23:30 UTC on Feb 29 among them
        ("2024-03-02", 1),  # 23:30 UTC on March 1
        ("2024-03-03", 0),
        ("2024-03-04", 1),  # 23:30 UTC on March 3
    ]


def test_by_insertion_lists_only_insertions_with_data(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_insertion="true", **MARCH)

    i2 = metrics(impressions=2, visible_impressions=1, votes=2, clicks=2,
                 click_through_rate=2.0, form_submissions=1, optin_submissions=1,
                 video_impressions=2, video_visible_impressions=1, video_start=2,
                 video_first_quartile=1, video_midpoint=1, video_third_quartile=1,
                 video_complete=1, video_complete_rate=0.5, billables=2,
                 spent=1.0)  # fmt: skip
    i1 = metrics(impressions=3, visible_impressions=2, engagements=1, clicks=2,
                 click_through_rate=1.0, billables=3, spent=0.03)  # fmt: skip
    assert rows == [crow(C1, i2, insertion=I2), crow(C1, i1, insertion=I1)]
    assert list(rows[0]) == ["campaign_id", "campaign_name", "insertion_id",
                             "insertion_name", "advertiser_id", "advertiser_name",
                             *CAMPAIGN_METRICS]  # fmt: skip


def test_by_content_puts_rows_without_content_last(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_content="true", **MARCH)

    t2 = metrics(impressions=2, visible_impressions=2, votes=2, clicks=1,
                 click_through_rate=0.5, form_submissions=1, optin_submissions=1,
                 video_impressions=1, video_start=1, video_complete=1,
                 video_complete_rate=1.0, billables=2, spent=0.51)  # fmt: skip
    t1 = metrics(impressions=2, visible_impressions=1, engagements=1, clicks=2,
                 click_through_rate=2.0, billables=2, spent=0.02)  # fmt: skip
    none = metrics(impressions=1, clicks=1, video_impressions=1,
                   video_visible_impressions=1, video_start=1, video_first_quartile=1,
                   video_midpoint=1, video_third_quartile=1, billables=1,
                   spent=0.5)  # fmt: skip
    assert rows == [
        crow(C1, t2, content=T2),
        crow(C1, t1, content=T1),
        crow(C1, none, content=None),
    ]
    assert list(rows[2]) == ["campaign_id", "campaign_name", "content_id",
                             "content_name", "advertiser_id", "advertiser_name",
                             *CAMPAIGN_METRICS]  # fmt: skip


def test_by_creative_lists_only_creatives_with_data(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_creative="true", **MARCH)

    k2 = metrics(impressions=3, visible_impressions=1, votes=2, clicks=2,
                 click_through_rate=2.0, form_submissions=1, optin_submissions=1,
                 video_impressions=2, video_visible_impressions=1, video_start=2,
                 video_first_quartile=1, video_midpoint=1, video_third_quartile=1,
                 video_complete=1, video_complete_rate=0.5, billables=3,
                 spent=1.01)  # fmt: skip
    k1 = metrics(impressions=2, visible_impressions=2, engagements=1, clicks=2,
                 click_through_rate=1.0, billables=2, spent=0.02)  # fmt: skip
    assert rows == [crow(C1, k2, creative=K2), crow(C1, k1, creative=K1)]
    assert list(rows[0]) == ["campaign_id", "campaign_name", "creative_id",
                             "creative_name", "advertiser_id", "advertiser_name",
                             *CAMPAIGN_METRICS]  # fmt: skip


def test_every_breakdown_at_once_orders_rows_by_date_then_ids(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_day="true", by_insertion="true",
                      by_content="true", by_creative="true", **MARCH)  # fmt: skip

    a3 = metrics(impressions=1, clicks=1, video_impressions=1,
                 video_visible_impressions=1, video_start=1, video_first_quartile=1,
                 video_midpoint=1, video_third_quartile=1, billables=1,
                 spent=0.5)  # fmt: skip
    a2 = metrics(impressions=1, visible_impressions=1, billables=1, spent=0.01)
    a4 = metrics(impressions=1, billables=1, spent=0.01)
    a1 = metrics(impressions=1, visible_impressions=1, engagements=1, clicks=2,
                 click_through_rate=2.0, billables=1, spent=0.01)  # fmt: skip
    day1, day2 = "2024-03-01", "2024-03-02"
    assert rows == [
        crow(C1, a3, day=day1, insertion=I2, content=None, creative=K2),
        crow(C1, a2, day=day1, insertion=I1, content=T2, creative=K1),
        crow(C1, a4, day=day1, insertion=I1, content=T1, creative=K2),
        crow(C1, a1, day=day1, insertion=I1, content=T1, creative=K1),
        crow(C1, C1_DAY2, day=day2, insertion=I2, content=T2, creative=K2),
    ]
    assert list(rows[0]) == [
        "date", "campaign_id", "campaign_name", "insertion_id", "insertion_name",
        "content_id", "content_name", "creative_id", "creative_name",
        "advertiser_id", "advertiser_name", *CAMPAIGN_METRICS,
    ]  # fmt: skip
    for row in rows:
        assert_metric_types(row, CAMPAIGN_METRICS)


def test_a_breakdown_with_no_data_in_range_is_an_empty_list(world: World) -> None:
    for flag in ("by_insertion", "by_content", "by_creative"):
        assert world.rows(f"/api/campaigns/{C3}", **{flag: "true"}, **MARCH) == []


def test_booleans_accept_true_false_1_0_in_any_case(world: World) -> None:
    expected = world.rows(f"/api/campaigns/{C1}", by_day="true", by_insertion="true",
                          **MARCH)  # fmt: skip

    for on, off in (
        ("TRUE", "FALSE"),
        ("True", "False"),
        ("1", "0"),
        ("tRuE", "fAlSe"),
    ):
        assert world.rows(f"/api/campaigns/{C1}", by_day=on, by_insertion=on,
                          by_content=off, by_creative=off, **MARCH) == expected  # fmt: skip


# -- totals -----------------------------------------------------------------------


def _sums(rows: list[Row]) -> dict[str, Decimal]:
    return {
        name: sum((exact(row[name]) for row in rows), Decimal(0))
        for name in (*COUNTERS, "spent")
    }


def _rate(numerator: int, denominator: int) -> Decimal:
    if denominator == 0:
        return Decimal(0)
    return (Decimal(numerator) / Decimal(denominator)).quantize(
        Decimal("0.000001"), rounding=ROUND_HALF_UP
    )


@pytest.mark.parametrize("campaign", [C1, C2])
def test_totals_reconcile_across_every_breakdown(world: World, campaign: str) -> None:
    wide = {"date_from": "2024-02-20", "date_to": "2024-03-10"}
    total = world.rows(f"/api/campaigns/{campaign}", **wide)
    per_day = world.rows(f"/api/campaigns/{campaign}", by_day="true", **wide)
    flags = ("by_insertion", "by_content", "by_creative")
    assert _sums(per_day) == _sums(total)

    for size in (1, 2, 3):
        for chosen in itertools.combinations(flags, size):
            params = dict.fromkeys(chosen, "true")
            rows = world.rows(f"/api/campaigns/{campaign}", **params, **wide)
            assert _sums(rows) == _sums(total), chosen
            daily = world.rows(f"/api/campaigns/{campaign}", by_day="true", **params,
                               **wide)  # fmt: skip
            for day_row in per_day:
                same_day = [r for r in daily if r["date"] == day_row["date"]]
                assert _sums(same_day) == _sums([day_row]), (chosen, day_row["date"])


def test_rates_derive_from_the_counters_of_their_row(world: World) -> None:
    rows = world.rows(f"/api/campaigns/{C1}", by_day="true", by_insertion="true",
                      by_content="true", by_creative="true",
                      date_from="2024-02-20", date_to="2024-03-10")  # fmt: skip
    rows += world.rows(f"/api/campaigns/{C1}", **MARCH)

    assert len(rows) == 8
    for row in rows:
        assert exact(row["click_through_rate"]) == _rate(
            row["clicks"], row["visible_impressions"]
        )
        assert exact(row["video_complete_rate"]) == _rate(
            row["video_complete"], row["video_start"]
        )


# -- every campaign ---------------------------------------------------------------


def test_campaign_list_holds_only_campaigns_with_events_in_range(
    world: World,
) -> None:
    assert world.rows("/api/campaigns", **MARCH) == [
        crow(C2, C2_TOTAL),
        crow(C1, C1_TOTAL),
    ]
    may = {"date_from": "2024-05-01", "date_to": "2024-05-31"}
    assert [r["campaign_id"] for r in world.rows("/api/campaigns", **may)] == [CR]
    empty = {"date_from": "2023-01-01", "date_to": "2023-01-31"}
    assert world.rows("/api/campaigns", **empty) == []


@pytest.mark.parametrize(
    "flags",
    [
        (),
        ("by_day",),
        ("by_insertion",),
        ("by_content",),
        ("by_creative",),
        ("by_day", "by_content"),
        ("by_day", "by_insertion", "by_content", "by_creative"),
    ],
)
def test_campaign_list_gives_each_campaign_its_own_rows(
    world: World, flags: tuple[str, ...]
) -> None:
    params = dict.fromkeys(flags, "true") | MARCH
    listed = world.rows("/api/campaigns", **params)

    assert sorted({r["campaign_id"] for r in listed}) == [C2, C1]
    for campaign in (C2, C1):
        own = world.rows(f"/api/campaigns/{campaign}", **params)
        assert [r for r in listed if r["campaign_id"] == campaign] == own
    order = [(r.get("date", ""), r["campaign_id"]) for r in listed]
    assert order == sorted(order)


def test_campaign_list_by_day_interleaves_campaigns_within_each_day(
    world: World,
) -> None:
    rows = world.rows("/api/campaigns", by_day="true", **MARCH)

    assert rows == [
        crow(C2, ZEROS, day="2024-03-01"),
        crow(C1, C1_DAY1, day="2024-03-01"),
        crow(C2, C2_TOTAL, day="2024-03-02"),
        crow(C1, C1_DAY2, day="2024-03-02"),
        crow(C2, ZEROS, day="2024-03-03"),
        crow(C1, ZEROS, day="2024-03-03"),
    ]


def test_campaign_list_of_another_account_holds_only_its_campaigns(
    world: World,
) -> None:
    x1 = metrics(impressions=1, visible_impressions=1, clicks=1,
                 click_through_rate=1.0, billables=1, spent=0.01)  # fmt: skip

    assert world.rows("/api/campaigns", ACC_B, **MARCH) == [crow(CB, x1)]


# -- the key ----------------------------------------------------------------------


def test_key_in_query_header_or_bearer_gives_the_same_answer(world: World) -> None:
    secret = world.keys[ACC_A]
    path = f"/api/campaigns/{C1}"
    by_query = world.http.get(path, params={"api_key": secret, **MARCH})
    by_header = world.http.get(path, params=MARCH, headers={"X-Api-Key": secret})
    by_bearer = world.http.get(
        path, params=MARCH, headers={"Authorization": f"Bearer {secret}"}
    )

    for response in (by_query, by_header, by_bearer):
        assert response.status_code == 200
        assert response.json() == [crow(C1, C1_TOTAL)]


# -- default dates ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("account", "campaign"), [(ACC_EAST, C_EAST), (ACC_WEST, C_WEST)]
)
def test_missing_dates_mean_yesterday_in_the_account_timezone(
    world: World, account: str, campaign: str
) -> None:
    yesterday = world.yesterday[account].isoformat()

    assert world.rows(f"/api/campaigns/{campaign}", account, by_day="true") == [
        crow(campaign, metrics(impressions=2, billables=2, spent=0.02), day=yesterday)
    ]
    assert world.rows(f"/api/campaigns/{campaign}", account) == [
        crow(campaign, metrics(impressions=2, billables=2, spent=0.02))
    ]
    assert world.rows("/api/campaigns", account) == [
        crow(campaign, metrics(impressions=2, billables=2, spent=0.02))
    ]


@pytest.mark.parametrize(
    ("given", "first", "last"),
    [
        # offsets in days from yesterday, in the account's timezone
        ({"date_from": -5}, -5, 0),
        ({"date_to": -3}, -3, -3),  # yesterday would reverse the range
        ({"date_from": 4}, 4, 4),  # yesterday would reverse the range
        ({"date_to": 2}, 0, 2),
    ],
)
def test_one_missing_date_is_yesterday_unless_that_reverses_the_range(
    world: World, given: dict[str, int], first: int, last: int
) -> None:
    yesterday = world.yesterday[ACC_EAST]
    params = {
        name: (yesterday + timedelta(days=offset)).isoformat()
        for name, offset in given.items()
    }

    rows = world.rows(f"/api/campaigns/{C_EAST}", ACC_EAST, by_day="true", **params)

    assert [r["date"] for r in rows] == [
        (yesterday + timedelta(days=offset)).isoformat()
        for offset in range(first, last + 1)
    ]


# -- renames ----------------------------------------------------------------------


def test_renames_loaded_while_serving_show_in_the_next_answer(
    world: World, tmp_path: Path
) -> None:
    params = {"date_from": "2024-05-10", "date_to": "2024-05-10", "by_insertion": "1",
              "by_content": "1", "by_creative": "1"}  # fmt: skip
    before = world.rows(f"/api/campaigns/{CR}", **params)
    assert [(r["campaign_name"], r["insertion_name"], r["content_name"],
             r["creative_name"], r["advertiser_name"]) for r in before] == [
        ("Old campaign name", "Old insertion name", "Old content name",
         "Old creative name", "Old advertiser name"),
    ]  # fmt: skip
    renamed = CatalogBuilder()
    renamed.advertiser(ADV_R, ACC_A, "New advertiser name")
    renamed.campaign(CR, ACC_A, ADV_R, "New campaign name")
    renamed.insertion(IR, CR, "New insertion name", "cpc", "1.00")
    renamed.content(TR, "New content name")
    renamed.creative(KR, ACC_A, "New creative name", "display")

    loaded = run_cli("catalog", "load", str(renamed.write(tmp_path / "renamed.json")),
                     "--db", str(world.db))  # fmt: skip

    assert loaded.returncode == 0, loaded.stderr
    after = world.rows(f"/api/campaigns/{CR}", **params)
    assert [(r["campaign_name"], r["insertion_name"], r["content_name"],
             r["creative_name"], r["advertiser_name"]) for r in after] == [
        ("New campaign name", "New insertion name", "New content name",
         "New creative name", "New advertiser name"),
    ]  # fmt: skip
    assert [{k: v for k, v in r.items() if not k.endswith("_name")} for r in after] == [
        {k: v for k, v in r.items() if not k.endswith("_name")} for r in before
    ]
    may = {"date_from": "2024-05-10", "date_to": "2024-05-10"}
    entity_names = [
        world.rows(f"/api/stats/{kind}/{entity}", **may)[0][f"{kind[:-1]}_name"]
        for kind, entity in (("campaigns", CR), ("insertions", IR), ("contents", TR))
    ]
    assert entity_names == [
        "New campaign name",
        "New insertion name",
        "New content name",
    ]


# -- long answers -----------------------------------------------------------------

# Ten years to March 3: 3,647 days, the longest range but a few days.
LONG = {"date_from": "2014-03-10", "date_to": "2024-03-03"}
C1_FEB29 = metrics(impressions=1, billables=1, spent=0.01)  # e30, 23:30 in Paris


def _long_days() -> list[str]:
    first, last = (date.fromisoformat(LONG[k]) for k in ("date_from", "date_to"))
    return [
        (first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)
    ]


def test_a_long_answer_streams_every_day_of_every_campaign(world: World) -> None:
    """By day over ten years: 7,294 rows, more than the answers are built and
    encoded by at once, so they stream. The days with events hold their rows,
    every other day is zeros, and the CSV holds the same rows."""
    response = world.get("/api/campaigns", by_day="true", **LONG)
    known = {("2024-02-29", C1): C1_FEB29, ("2024-03-01", C1): C1_DAY1,
             ("2024-03-02", C1): C1_DAY2, ("2024-03-02", C2): C2_TOTAL}  # fmt: skip

    assert response.status_code == 200
    assert "content-length" not in response.headers  # streamed
    assert response.json() == [
        crow(campaign, known.get((day, campaign), ZEROS), day=day)
        for day in _long_days()
        for campaign in (C2, C1)  # id order
    ]
    header, lines = _csv_rows(world.get("/api/campaigns", format="csv", by_day="true",
                                        **LONG))  # fmt: skip
    assert header == list(response.json()[0])
    for line, row in zip(lines, response.json(), strict=True):
        assert all(_same_value(line[name], row[name]) for name in header), (line, row)


def test_a_long_entity_answer_streams_every_day_of_every_entity(world: World) -> None:
    """The entity family by day over ten years: each insertion with events in
    the range has every day, zeros but on the days of its events."""
    i1_day1 = metrics(impressions=3, visible_impressions=2, engagements=1, clicks=2,
                      billables=3, spent=0.03)  # fmt: skip
    i2_day1 = metrics(impressions=1, clicks=1, video_impressions=1,
                      video_visible_impressions=1, video_start=1,
                      video_first_quartile=1, video_midpoint=1,
                      video_third_quartile=1, billables=1, spent=0.5)  # fmt: skip
    known = {("2024-02-29", I1): C1_FEB29, ("2024-03-01", I1): i1_day1,
             ("2024-03-01", I2): i2_day1, ("2024-03-02", I2): C1_DAY2,
             ("2024-03-02", I3): C2_TOTAL}  # fmt: skip

    rows = world.rows("/api/stats/insertions", by_day="true", **LONG)

    assert rows == [
        erow("insertion", insertion, known.get((day, insertion), ZEROS), day)
        for day in _long_days()
        for insertion in (I2, I1, I3)  # id order
    ]


# -- CSV --------------------------------------------------------------------------


def _csv_rows(response: httpx.Response) -> tuple[list[str], list[dict[str, str]]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    text = response.content.decode("utf-8")
    assert text.endswith("\r\n")
    # Records end with CRLF; a bare newline may only stand inside a quoted field.
    unquoted = re.sub(r'"(?:[^"]|"")*"', "", text)
    assert "\n" not in unquoted.replace("\r\n", "")
    reader = csv.reader(io.StringIO(text, newline=""))
    header, *lines = list(reader)
    return header, [dict(zip(header, line, strict=True)) for line in lines]


def _same_value(shown: str, value: Any) -> bool:
    if value is None:
        return shown == ""
    if isinstance(value, str):
        return shown == value
    return Decimal(shown) == exact(value)


@pytest.mark.parametrize(
    "path",
    [
        f"/api/campaigns/{C1}",
        "/api/campaigns",
        "/api/stats/campaigns",
        "/api/stats/insertions",
        "/api/stats/contents",
        f"/api/stats/contents/{T1}",
    ],
)
def test_csv_holds_the_same_rows_as_json(world: World, path: str) -> None:
    params = {"by_day": "true", **MARCH}
    if path.startswith("/api/campaigns"):
        params |= {"by_insertion": "true", "by_content": "true", "by_creative": "true"}
    rows = world.rows(path, **params)

    header, lines = _csv_rows(world.get(path, format="csv", **params))

    assert header == list(rows[0])
    assert len(lines) == len(rows)
    for line, row in zip(lines, rows, strict=True):
        assert all(_same_value(line[name], row[name]) for name in header), (line, row)


def test_csv_quotes_names_and_keeps_utf8(world: World) -> None:
    header, lines = _csv_rows(world.get(f"/api/campaigns/{C1}", format="csv", **MARCH))

    assert header == ["campaign_id", "campaign_name", "advertiser_id",
                      "advertiser_name", *CAMPAIGN_METRICS]  # fmt: skip
    assert [(line["campaign_name"], line["advertiser_name"]) for line in lines] == [
        ('Spring, "Printemps"', "Annonceur Été")
    ]
    response = world.get(f"/api/campaigns/{C1}", format="csv", **MARCH)
    assert b'"Spring, ""Printemps"""' in response.content
    assert response.headers["content-disposition"] == (
        f'attachment; filename="campaign-{C1}_2024-03-01_2024-03-03.csv"'
    )


def test_csv_reads_back_with_pandas_as_the_json_rows(world: World) -> None:
    params = {"by_day": "true", "by_insertion": "true", "by_content": "true",
              "by_creative": "true", **MARCH}  # fmt: skip
    rows = world.rows(f"/api/campaigns/{C1}", **params)
    response = world.get(f"/api/campaigns/{C1}", format="csv", **params)

    frame = pandas.read_csv(
        io.BytesIO(response.content), dtype=str, keep_default_na=False
    )

    assert list(frame.columns) == list(rows[0])
    names = {row["content_name"] for row in rows} | {
        row["creative_name"] for row in rows
    }
    assert {'Home\npage 🎉, "live"', "Banner 📣"} <= names
    for line, row in zip(frame.to_dict("records"), rows, strict=True):
        assert all(_same_value(line[name], row[name]) for name in row), (line, row)


def test_csv_of_no_rows_is_the_header_line(world: World) -> None:
    response = world.get(f"/api/campaigns/{C3}", format="csv", by_insertion="true",
                         **MARCH)  # fmt: skip

    assert response.status_code == 200
    assert response.text == ",".join(
        ["campaign_id", "campaign_name", "insertion_id", "insertion_name",
         "advertiser_id", "advertiser_name", *CAMPAIGN_METRICS]
    ) + "\r\n"  # fmt: skip


# -- the entity family ------------------------------------------------------------


def _campaign_family(world: World, **flags: str) -> list[Row]:
    return world.rows("/api/campaigns", **flags, **MARCH)


def test_entity_campaigns_agree_with_campaign_statistics(world: World) -> None:
    rows = world.rows("/api/stats/campaigns", **MARCH)

    assert rows == [erow("campaign", C2, C2_TOTAL), erow("campaign", C1, C1_TOTAL)]
    assert list(rows[0]) == ["campaign_id", "campaign_name", *ENTITY_METRICS]
    for row in rows:
        assert_metric_types(row, ENTITY_METRICS)
    by_campaign = {r["campaign_id"]: r for r in _campaign_family(world)}
    for row in rows:
        assert {k: row[k] for k in ENTITY_METRICS} == entity_metrics_of(
            by_campaign[row["campaign_id"]]
        )


def test_entity_campaign_by_day_agrees_with_campaign_by_day(world: World) -> None:
    rows = world.rows(f"/api/stats/campaigns/{C1}", by_day="true", **MARCH)

    assert rows == [
        erow("campaign", C1, C1_DAY1, "2024-03-01"),
        erow("campaign", C1, C1_DAY2, "2024-03-02"),
        erow("campaign", C1, ZEROS, "2024-03-03"),
    ]
    assert list(rows[0]) == ["date", "campaign_id", "campaign_name", *ENTITY_METRICS]


def test_entity_insertions_agree_with_campaigns_by_insertion(world: World) -> None:
    rows = world.rows("/api/stats/insertions", **MARCH)

    by_insertion = {
        r["insertion_id"]: r for r in _campaign_family(world, by_insertion="true")
    }
    assert [r["insertion_id"] for r in rows] == [I2, I1, I3]
    assert rows == [erow("insertion", i, by_insertion[i]) for i in (I2, I1, I3)]
    assert list(rows[0]) == ["insertion_id", "insertion_name", *ENTITY_METRICS]


def test_entity_contents_agree_and_stay_in_the_key_account(world: World) -> None:
    rows = world.rows("/api/stats/contents", **MARCH)

    by_content: dict[str, list[Row]] = {}
    for row in _campaign_family(world, by_content="true"):
        by_content.setdefault(row["content_id"], []).append(row)
    t1 = metrics(impressions=3, visible_impressions=2, engagements=2, clicks=2,
                 billables=3, spent=0.27)  # fmt: skip
    assert rows[1] == erow("content", T1, t1)
    assert [r["content_id"] for r in rows] == [T2, T1]
    for row in rows:
        sums = _sums(by_content[row["content_id"]])
        assert {k: exact(row[k]) for k in ENTITY_METRICS} == {
            k: sums[ENTITY_TO_CAMPAIGN_METRIC[k]] for k in ENTITY_METRICS
        }
    x1 = metrics(impressions=1, visible_impressions=1, clicks=1, billables=1,
                 spent=0.01)  # fmt: skip
    assert world.rows(f"/api/stats/contents/{T1}", ACC_B, **MARCH) == [
        erow("content", T1, x1)
    ]
    assert world.rows("/api/stats/contents", ACC_B, **MARCH) == [
        erow("content", T1, x1)
    ]


@pytest.mark.parametrize(
    ("kind", "entity"), [("campaigns", C3), ("insertions", I5), ("contents", T3)]
)
def test_one_idle_entity_is_one_row_of_zeros(
    world: World, kind: str, entity: str
) -> None:
    singular = kind[:-1]

    assert world.rows(f"/api/stats/{kind}/{entity}", **MARCH) == [
        erow(singular, entity, ZEROS)
    ]
    assert world.rows(f"/api/stats/{kind}/{entity}", by_day="true", **MARCH) == [
        erow(singular, entity, ZEROS, day)
        for day in ("2024-03-01", "2024-03-02", "2024-03-03")
    ]


def test_one_entity_equals_its_row_in_the_list(world: World) -> None:
    for kind in ("campaigns", "insertions", "contents"):
        listed = world.rows(f"/api/stats/{kind}", **MARCH)
        for row in listed:
            entity = row[f"{kind[:-1]}_id"]
            assert world.rows(f"/api/stats/{kind}/{entity}", **MARCH) == [row]


@pytest.mark.parametrize("kind", ["campaigns", "insertions", "contents"])
def test_entity_list_by_day_gives_each_entity_its_own_rows(
    world: World, kind: str
) -> None:
    listed = world.rows(f"/api/stats/{kind}", by_day="true", **MARCH)
    entities = [r[f"{kind[:-1]}_id"] for r in world.rows(f"/api/stats/{kind}", **MARCH)]

    assert len(listed) == 3 * len(entities)
    for entity in entities:
        own = world.rows(f"/api/stats/{kind}/{entity}", by_day="true", **MARCH)
        assert [r for r in listed if r[f"{kind[:-1]}_id"] == entity] == own
    order = [(r["date"], r[f"{kind[:-1]}_id"]) for r in listed]
    assert order == sorted(order)


def test_entity_numbers_are_json_integers(world: World) -> None:
    for kind in ("campaigns", "insertions", "contents"):
        for row in world.rows(f"/api/stats/{kind}", by_day="true", **MARCH):
            assert_metric_types(row, ENTITY_METRICS)
