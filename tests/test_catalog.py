"""The catalog (SPEC section 1): an idempotent upsert by id, refused whole,
naming the item, when it breaks a rule; renames show in later answers."""

import copy
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from adstats.domain.catalog import Catalog
from adstats.errors import CatalogError
from support.world import (
    A1,
    A2,
    ADV1,
    ADV2,
    C1,
    C2,
    I1,
    I2,
    K1,
    R1,
    R2,
    World,
    account,
    advertiser,
    campaign,
    content,
    creative,
    event,
    hex_id,
    insertion,
    standard_catalog,
)

DAY = date(2023, 1, 10)
LISTS = ("accounts", "advertisers", "campaigns", "insertions", "contents", "creatives")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "db.duckdb", standard_catalog())
    yield w
    w.close()


def snapshot(world: World) -> tuple[Catalog, int]:
    state = world.store.catalog_state()
    return copy.deepcopy(state.catalog), state.version


def test_a_first_load_adds_every_item(tmp_path: Path) -> None:
    world = World(tmp_path / "db.duckdb")
    summary = world.admin.load_catalog(standard_catalog())
    assert summary.changed == {
        "accounts": 2,
        "advertisers": 2,
        "campaigns": 3,
        "insertions": 4,
        "contents": 2,
        "creatives": 3,
    }
    catalog = world.store.catalog_state().catalog
    assert catalog.accounts[A1].currency == "EUR"
    assert catalog.accounts[A1].timezone == "UTC"
    assert catalog.insertions[I2].pricing_model == "cpc"
    assert catalog.insertions[I2].campaign_id == C1
    assert catalog.creatives[R2].format == "video"
    world.close()


def test_loading_the_same_catalog_again_changes_nothing(world: World) -> None:
    before = snapshot(world)
    summary = world.admin.load_catalog(standard_catalog())
    assert summary.changed == dict.fromkeys(LISTS, 0)
    assert snapshot(world) == before
    world.ingest([event("e1", "impression", "imp1")])
    world.admin.load_catalog(standard_catalog())
    assert world.campaign(DAY)["impressions"] == 1


def test_a_partial_file_upserts_only_its_items(world: World) -> None:
    renamed = campaign(C2, A1, ADV1, "Summer sale")
    new = insertion(hex_id("1e", 5), C2, "Summer display", "vcpm", "3.00")
    summary = world.admin.load_catalog({"campaigns": [renamed], "insertions": [new]})
    assert summary.changed == {
        **dict.fromkeys(LISTS, 0),
        "campaigns": 1,
        "insertions": 1,
    }
    catalog = world.store.catalog_state().catalog
    assert catalog.campaigns[C2].name == "Summer sale"
    assert catalog.campaigns[C1].name == "Spring"
    assert catalog.insertions[hex_id("1e", 5)].pricing_model == "vcpm"
    assert len(catalog.insertions) == 5


def test_the_catalog_survives_reopening(tmp_path: Path) -> None:
    world = World(tmp_path / "db.duckdb", standard_catalog(c1_budget="12.5"))
    before = snapshot(world)[0]
    world.close()
    again = World(tmp_path / "db.duckdb")
    assert snapshot(again)[0] == before
    assert (
        again.store.catalog_state().catalog.campaigns[C1].budget_nanos == 12_500_000_000
    )
    again.close()


def test_renames_show_in_every_later_answer(world: World) -> None:
    world.ingest([event("e1", "impression", "imp1", content_id=K1)])
    renamed = standard_catalog()
    renamed["advertisers"][0]["name"] = "Acme Holding"
    renamed["campaigns"][0]["name"] = "Spring, renamed"
    renamed["insertions"][0]["name"] = "Display, renamed"
    renamed["contents"][0]["name"] = "Home"
    renamed["creatives"][0]["name"] = "Banner v2"
    world.admin.load_catalog(renamed)
    row = world.campaigns(
        DAY, campaign_id=C1, by_insertion=True, by_content=True, by_creative=True
    )[0]
    assert {k: row[k] for k in list(row)[:10]} == {
        "campaign_id": C1,
        "campaign_name": "Spring, renamed",
        "insertion_id": I1,
        "insertion_name": "Display, renamed",
        "content_id": K1,
        "content_name": "Home",
        "creative_id": R1,
        "creative_name": "Banner v2",
        "advertiser_id": ADV1,
        "advertiser_name": "Acme Holding",
    }
    assert world.campaign(DAY)["campaign_name"] == "Spring, renamed"
    assert world.entities("insertions", DAY)[0]["insertion_name"] == "Display, renamed"
    assert world.entities("contents", DAY)[0]["content_name"] == "Home"
    assert world.entities("campaigns", DAY)[0]["campaign_name"] == "Spring, renamed"


def test_a_campaign_may_move_to_another_advertiser_of_its_account(world: World) -> None:
    other = hex_id("ad", 3)
    world.admin.load_catalog(
        {
            "advertisers": [advertiser(other, A1, "Acme Outlet")],
            "campaigns": [campaign(C1, A1, other, "Spring")],
        }
    )
    row = world.campaign(DAY)
    assert (row["advertiser_id"], row["advertiser_name"]) == (other, "Acme Outlet")


def test_a_budget_can_be_set_and_removed(world: World) -> None:
    world.admin.load_catalog({"campaigns": [campaign(C1, A1, ADV1, "Spring", "5")]})
    assert world.store.catalog_state().catalog.campaigns[C1].budget_nanos == 5 * 10**9
    world.admin.load_catalog({"campaigns": [campaign(C1, A1, ADV1, "Spring")]})
    assert world.store.catalog_state().catalog.campaigns[C1].budget_nanos is None


def test_a_content_is_shared_by_every_account(world: World) -> None:
    world.ingest(
        [
            event("e1", "impression", "imp1", content_id=K1),
            event(
                "e2",
                "impression",
                "imp2",
                insertion_id=hex_id("1e", 9),
                creative_id=hex_id("cc", 9),
                content_id=K1,
            ),
        ]
    )
    mine = world.entities("contents", DAY, entity_id=K1)
    theirs = world.entities("contents", DAY, entity_id=K1, account_id=A2)
    assert [(r["content_id"], r["impressions"]) for r in mine] == [(K1, 1)]
    assert [(r["content_id"], r["impressions"]) for r in theirs] == [(K1, 1)]


# -- refusals -----------------------------------------------------------------------

NEW_CAMPAIGN = hex_id("ca", 0x77)
UNKNOWN = hex_id("ee", 1)


def with_items(**lists: list[Any]) -> dict[str, Any]:
    """A document that first adds a valid new campaign, then the given items:
    when refused, the valid campaign must not be written either."""
    document: dict[str, Any] = {"campaigns": [campaign(NEW_CAMPAIGN, A1, ADV1, "New")]}
    for name, items in lists.items():
        document.setdefault(name, [])
        document[name] = document[name] + items
    return document


# (label, document, text the message must contain)
BROKEN: list[tuple[str, dict[str, Any], str]] = [
    (
        "insertion of an unknown campaign",
        with_items(insertions=[insertion(hex_id("1e", 0x50), UNKNOWN, "Lost")]),
        hex_id("1e", 0x50),
    ),
    (
        "campaign of an unknown account",
        with_items(campaigns=[campaign(hex_id("ca", 0x51), UNKNOWN, ADV1, "Lost")]),
        hex_id("ca", 0x51),
    ),
    (
        "campaign of an unknown advertiser",
        with_items(campaigns=[campaign(hex_id("ca", 0x52), A1, UNKNOWN, "Lost")]),
        hex_id("ca", 0x52),
    ),
    (
        "campaign with the advertiser of another account",
        with_items(campaigns=[campaign(hex_id("ca", 0x53), A1, ADV2, "Lost")]),
        hex_id("ca", 0x53),
    ),
    (
        "advertiser of an unknown account",
        with_items(advertisers=[advertiser(hex_id("ad", 0x54), UNKNOWN, "Lost")]),
        hex_id("ad", 0x54),
    ),
    (
        "creative of an unknown account",
        with_items(creatives=[creative(hex_id("cc", 0x55), UNKNOWN, "Lost")]),
        hex_id("cc", 0x55),
    ),
    (
        "unknown currency",
        with_items(accounts=[account(hex_id("aa", 0x56), "New", "EURO")]),
        hex_id("aa", 0x56),
    ),
    (
        "currency in lower case",
        with_items(accounts=[account(hex_id("aa", 0x57), "New", "eur")]),
        hex_id("aa", 0x57),
    ),
    (
        "unknown timezone",
        with_items(
            accounts=[account(hex_id("aa", 0x58), "New", "EUR", "Mars/Olympus")]
        ),
        hex_id("aa", 0x58),
    ),
    (
        # a file of the system zoneinfo directory, not an IANA zone: DuckDB,
        # which computes the days, does not know it
        "timezone localtime",
        with_items(accounts=[account(hex_id("aa", 0x65), "New", "EUR", "localtime")]),
        hex_id("aa", 0x65),
    ),
    (
        "timezone of the wrong case",
        with_items(
            accounts=[account(hex_id("aa", 0x59), "New", "EUR", "europe/paris")]
        ),
        hex_id("aa", 0x59),
    ),
    (
        "id in upper case",
        with_items(contents=[content("C0" + "0" * 21 + "1", "Upper")]),
        "C0" + "0" * 21 + "1",
    ),
    (
        "id too short",
        with_items(contents=[content("c0" + "0" * 21, "Short")]),
        "c0" + "0" * 21,
    ),
    ("id missing", with_items(contents=[{"name": "No id"}]), "contents[0]"),
    (
        "reference with a bad id",
        with_items(insertions=[insertion(hex_id("1e", 0x5A), "not-an-id", "Bad")]),
        hex_id("1e", 0x5A),
    ),
    (
        "unknown pricing model",
        with_items(insertions=[insertion(hex_id("1e", 0x5B), C1, "X", "cpa", "1")]),
        hex_id("1e", 0x5B),
    ),
    (
        "price as a JSON number",
        with_items(
            insertions=[{**insertion(hex_id("1e", 0x5C), C1, "X"), "price": 2.5}]
        ),
        hex_id("1e", 0x5C),
    ),
    (
        "negative price",
        with_items(insertions=[insertion(hex_id("1e", 0x5D), C1, "X", "cpc", "-1")]),
        hex_id("1e", 0x5D),
    ),
    (
        "price that is not a number",
        with_items(insertions=[insertion(hex_id("1e", 0x5E), C1, "X", "cpc", "abc")]),
        hex_id("1e", 0x5E),
    ),
    (
        "budget that is not a number",
        with_items(campaigns=[campaign(hex_id("ca", 0x5F), A1, ADV1, "X", "NaN")]),
        hex_id("ca", 0x5F),
    ),
    (
        "missing price",
        with_items(
            insertions=[
                {
                    k: v
                    for k, v in insertion(hex_id("1e", 0x60), C1, "X").items()
                    if k != "price"
                }
            ]
        ),
        hex_id("1e", 0x60),
    ),
    (
        "creative of an unknown format",
        with_items(creatives=[creative(hex_id("cc", 0x61), A1, "X", "audio")]),
        hex_id("cc", 0x61),
    ),
    (
        "empty name",
        with_items(contents=[content(hex_id("c0", 0x62), "")]),
        hex_id("c0", 0x62),
    ),
    (
        "the same id twice",
        with_items(
            contents=[
                content(hex_id("c0", 0x63), "A"),
                content(hex_id("c0", 0x63), "B"),
            ]
        ),
        hex_id("c0", 0x63),
    ),
    (
        "an unknown field",
        with_items(contents=[{**content(hex_id("c0", 0x64), "A"), "colour": "red"}]),
        "colour",
    ),
    ("an unknown list", with_items(campaign=[]), "campaign"),
    ("an item that is not an object", with_items(contents=["K1"]), "contents[0]"),
    ("a list that is not a list", {"contents": {"id": K1}}, "contents"),
]


@pytest.mark.parametrize(
    ("document", "named"),
    [pytest.param(doc, named, id=label) for label, doc, named in BROKEN],
)
def test_a_broken_file_is_refused_whole_naming_the_item(
    world: World, document: dict[str, Any], named: str
) -> None:
    before = snapshot(world)
    with pytest.raises(CatalogError) as refused:
        world.admin.load_catalog(document)
    assert named in refused.value.message
    assert snapshot(world) == before
    assert NEW_CAMPAIGN not in world.store.catalog_state().catalog.campaigns


def test_nothing_of_a_refused_file_reaches_the_database(tmp_path: Path) -> None:
    world = World(tmp_path / "db.duckdb", standard_catalog())
    before = snapshot(world)
    document = with_items(
        contents=[content(hex_id("c0", 0x70), "Fine")],
        insertions=[insertion(hex_id("1e", 0x71), UNKNOWN, "Lost")],
    )
    document["campaigns"].append(campaign(C1, A1, ADV1, "Renamed in a refused file"))
    with pytest.raises(CatalogError):
        world.admin.load_catalog(document)
    world.close()
    again = World(tmp_path / "db.duckdb")
    assert snapshot(again) == before
    assert again.store.catalog_state().catalog.campaigns[C1].name == "Spring"
    again.close()


def test_an_item_may_refer_to_an_item_of_the_same_file(tmp_path: Path) -> None:
    world = World(tmp_path / "db.duckdb")
    # lists given in reverse order: references resolve over the whole file
    document = dict(reversed(list(standard_catalog().items())))
    world.admin.load_catalog(document)
    assert set(world.store.catalog_state().catalog.campaigns) == {
        C1,
        C2,
        hex_id("ca", 9),
    }
    world.close()


FROZEN: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("account currency", lambda c: c["accounts"][0].update(currency="USD"), A1),
    (
        "account timezone",
        lambda c: c["accounts"][0].update(timezone="Europe/Paris"),
        A1,
    ),
    ("insertion campaign", lambda c: c["insertions"][0].update(campaign_id=C2), I1),
    (
        "campaign account",
        lambda c: c["campaigns"][0].update(account_id=A2, advertiser_id=ADV2),
        C1,
    ),
    ("creative account", lambda c: c["creatives"][0].update(account_id=A2), R1),
    ("advertiser account", lambda c: c["advertisers"][0].update(account_id=A2), ADV1),
]


@pytest.mark.parametrize(
    ("change", "named"),
    [pytest.param(change, named, id=label) for label, change, named in FROZEN],
)
def test_frozen_fields_cannot_change(
    world: World, change: Callable[[dict[str, Any]], None], named: str
) -> None:
    world.ingest([event("e1", "click", "imp1", insertion_id=I2)])
    before = snapshot(world)
    document = standard_catalog()
    change(document)
    with pytest.raises(CatalogError) as refused:
        world.admin.load_catalog(document)
    assert named in refused.value.message
    assert snapshot(world) == before
    assert world.campaign(DAY)["clicks"] == 1


def test_an_explicit_utc_equals_the_default(world: World) -> None:
    document = standard_catalog()
    del document["accounts"][0]["timezone"]
    assert world.admin.load_catalog(document).changed == dict.fromkeys(LISTS, 0)
