"""Properties of counting, billing and answers, on random event logs, checked
against the independent model of SPEC sections 2-5 (support/model.py)."""

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from support.model import EVENT_TYPES, PRICING, Model
from support.world import (
    A1,
    C1,
    C2,
    COUNTER_FIELDS,
    I1,
    I2,
    I3,
    K1,
    K2,
    R1,
    R2,
    Event,
    World,
    event,
    standard_catalog,
)

TZ = "Europe/Paris"
# Three UTC days around the start of summer time in Paris (2023-03-26).
BASE = datetime(2023, 3, 25, tzinfo=UTC)
FIRST, LAST = date(2023, 3, 24), date(2023, 3, 28)
LATER_MS = 1735689600000  # 2025-01-01: every event is in the past

SETTINGS = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    # no shrinking: each example costs a database; a failure shows its example
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)

Pricing = tuple[str, str, str | None]
# (pricing model, price, budget): budgets small enough to bind often
I1_PRICINGS: list[Pricing] = [
    ("cpm", "20", None),
    ("vcpm", "50", "0.05"),
    ("cpm", "35", "0.04"),
]
I2_PRICINGS: list[Pricing] = [
    ("cpc", "0.05", None),
    ("cpc", "0.07", "0.07"),
    ("cpe", "0.03", "0.03"),
]
I3_PRICINGS: list[Pricing] = [
    ("cpv", "0.02", "0.02"),
    ("cpcv", "0.11", None),
    ("cpm", "7.5", "0.0075"),
]
# the billable types come up more often than the others
TYPES = st.sampled_from(EVENT_TYPES) | st.sampled_from(
    ["impression", "visible_impression", "click", "engagement", "video_start"]
)

BREAKDOWNS = ("by_day", "by_insertion", "by_content", "by_creative")
SHAPES: list[dict[str, Any]] = [
    dict(zip(BREAKDOWNS, flags, strict=True))
    for flags in itertools.product((False, True), repeat=4)
]


@dataclass(frozen=True)
class Impression:
    """An ad view: every event of it shares its placement and hour, so the
    counting rules make the order of its events irrelevant when no budget
    binds."""

    id: str
    insertion_id: str
    creative_id: str
    content_id: str | None
    day: int
    hour: int


def ts_of(impression: Impression, minute: int, style: str) -> str | int:
    instant = BASE + timedelta(
        days=impression.day, hours=impression.hour, minutes=minute
    )
    if style == "z":
        return instant.strftime("%Y-%m-%dT%H:%M:%S.250Z")
    if style == "offset":
        return instant.astimezone(timezone(timedelta(hours=-5))).isoformat()
    return int(instant.timestamp() * 1000)


@st.composite
def impressions(draw: st.DrawFn, number: int) -> Impression:
    return Impression(
        id=f"imp{number}",
        insertion_id=draw(st.sampled_from([I1, I2, I3])),
        creative_id=draw(st.sampled_from([R1, R2])),
        content_id=draw(st.sampled_from([K1, K2, None])),
        day=draw(st.integers(0, 2)),
        # 01:00Z to 20:59Z is never midnight in Paris, whatever the minute
        hour=draw(st.integers(1, 20)),
    )


@st.composite
def event_logs(draw: st.DrawFn) -> list[Event]:
    """Distinct events, then replays of some of them, all in a random order."""
    views = [draw(impressions(n)) for n in range(draw(st.integers(1, 6)))]
    events = []
    for n in range(draw(st.integers(1, 30))):
        view = draw(st.sampled_from(views))
        events.append(
            event(
                f"ev{n}",
                draw(TYPES),
                view.id,
                ts_of(
                    view,
                    draw(st.integers(0, 59)),
                    draw(st.sampled_from(["z", "offset", "ms"])),
                ),
                insertion_id=view.insertion_id,
                creative_id=view.creative_id,
                content_id=view.content_id,
            )
        )
    replays = draw(st.lists(st.sampled_from(events), max_size=10))
    log = events + replays
    order = draw(st.permutations(range(len(log))))
    return [log[i] for i in order]


@st.composite
def catalogs(draw: st.DrawFn, *, budgets: bool = True) -> dict[str, Any]:
    if not budgets:
        return standard_catalog(
            timezone=TZ,
            i1=(draw(st.sampled_from(["cpm", "vcpm"])), "20", None),
            i2=(draw(st.sampled_from(["cpc", "cpe"])), "0.05", None),
            i3=(draw(st.sampled_from(["cpv", "cpcv"])), "0.02", None),
        )
    return standard_catalog(
        timezone=TZ,
        c1_budget=draw(st.sampled_from([None, "0.02", "0.05", "0.1"])),
        i1=draw(st.sampled_from(I1_PRICINGS)),
        i2=draw(st.sampled_from(I2_PRICINGS)),
        i3=draw(st.sampled_from(I3_PRICINGS)),
    )


@pytest.fixture(scope="module")
def new_world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A factory of fresh worlds; hypothesis runs many examples per test."""
    made: list[World] = []

    def factory(catalog: dict[str, Any]) -> World:
        while made:  # the previous example is over
            made.pop().close()
        world = World(tmp_path_factory.mktemp("prop") / "db.duckdb", catalog)
        world.now_ms = LATER_MS
        made.append(world)
        return world

    yield factory
    while made:
        made.pop().close()


def answers(world: World, shapes: Sequence[dict[str, Any]]) -> list[Any]:
    return [world.campaigns(FIRST, LAST, **shape) for shape in shapes]


def expected(model: Model, shapes: Sequence[dict[str, Any]]) -> list[Any]:
    return [model.campaign_rows(A1, FIRST, LAST, **shape) for shape in shapes]


def check_entities(world: World, model: Model) -> None:
    for kind in ("campaigns", "insertions", "contents"):
        for by_day in (False, True):
            got = world.entities(kind, FIRST, LAST, by_day=by_day)
            assert got == model.entity_rows(A1, kind, FIRST, LAST, by_day=by_day)
    one = world.entities("insertions", FIRST, LAST, entity_id=I2, by_day=True)
    assert one == model.entity_rows(
        A1, "insertions", FIRST, LAST, entity_id=I2, by_day=True
    )


def key_without(row: dict[str, Any], dropped: str) -> tuple[Any, ...]:
    """The key of the row in the answer without the `dropped` breakdown."""
    fields = ["date", "campaign_id", "insertion_id", "content_id", "creative_id"]
    dropped_field = {
        "by_day": "date",
        "by_insertion": "insertion_id",
        "by_content": "content_id",
        "by_creative": "creative_id",
    }[dropped]
    return tuple(row[f] for f in fields if f in row and f != dropped_field)


def key_of(row: dict[str, Any]) -> tuple[Any, ...]:
    fields = ["date", "campaign_id", "insertion_id", "content_id", "creative_id"]
    return tuple(row[f] for f in fields if f in row)


def check_breakdowns_add_up(by_shape: dict[tuple[bool, ...], list[Any]]) -> None:
    """For every answer and every breakdown it has, summing its rows' counters
    over that breakdown gives the answer without it."""
    for flags, rows in by_shape.items():
        shape = dict(zip(BREAKDOWNS, flags, strict=True))
        for dropped in BREAKDOWNS:
            if not shape[dropped]:
                continue
            coarser = tuple(
                False if name == dropped else on
                for name, on in zip(BREAKDOWNS, flags, strict=True)
            )
            sums: dict[tuple[Any, ...], dict[str, int]] = defaultdict(
                lambda: dict.fromkeys(COUNTER_FIELDS, 0)
            )
            for row in rows:
                total = sums[key_without(row, dropped)]
                for name in COUNTER_FIELDS:
                    total[name] += row[name]
            for row in by_shape[coarser]:
                got = sums.get(key_of(row), dict.fromkeys(COUNTER_FIELDS, 0))
                assert got == {name: row[name] for name in COUNTER_FIELDS}, (
                    flags,
                    dropped,
                )
            # no breakdown row stands outside the coarser answer
            assert set(sums) <= {key_of(row) for row in by_shape[coarser]}


@SETTINGS
@given(catalog=catalogs(), log=event_logs())
def test_answers_equal_the_model_and_replays_change_nothing(
    new_world: Any, catalog: dict[str, Any], log: list[Event]
) -> None:
    world: World = new_world(catalog)
    model = Model(catalog)
    got = world.ingest(log)
    assert got.rejected == []
    assert (got.accepted, got.duplicates) == model.ingest(log)

    refused = [
        f
        for f in model.facts
        if not f.billable
        and f.type
        == PRICING[model.items["insertions"][f.insertion_id]["pricing_model"]][0]
    ]
    hypothesis.event("a budget binds" if refused else "no budget binds")
    hypothesis.event("with duplicates" if got.duplicates else "without duplicates")

    every = answers(world, SHAPES)
    assert every == expected(model, SHAPES)
    for campaign_id in (C1, C2):
        for by_day in (False, True):
            assert world.campaigns(
                FIRST, LAST, campaign_id=campaign_id, by_day=by_day
            ) == model.campaign_rows(
                A1, FIRST, LAST, campaign_id=campaign_id, by_day=by_day
            )
    check_entities(world, model)
    check_breakdowns_add_up(
        {tuple(s.values()): rows for s, rows in zip(SHAPES, every, strict=True)}
    )
    # the exact spent of every breakdown adds up to the row without it
    exact = model.campaign_rows(A1, FIRST, LAST, exact=True)
    finest = model.campaign_rows(A1, FIRST, LAST, exact=True, **SHAPES[-1])
    assert sum(r["spent"] for r in finest) == sum(r["spent"] for r in exact)

    # spent never exceeds a budget (the rounded answers equal the model's)
    by_insertion = model.campaign_rows(A1, FIRST, LAST, exact=True, by_insertion=True)
    for item in catalog["insertions"]:
        if item.get("budget") is not None:
            spent = [
                r["spent"] for r in by_insertion if r["insertion_id"] == item["id"]
            ]
            assert sum(spent, Decimal(0)) <= Decimal(item["budget"])
    c1_budget = catalog["campaigns"][0].get("budget")
    if c1_budget is not None:
        spent = [r["spent"] for r in exact if r["campaign_id"] == C1]
        assert sum(spent, Decimal(0)) <= Decimal(c1_budget)

    again = world.ingest(log)
    assert (again.accepted, again.duplicates, again.rejected) == (0, len(log), [])
    assert answers(world, SHAPES) == every


@SETTINGS
@given(
    catalog=catalogs(),
    log=event_logs(),
    cuts=st.lists(st.integers(0, 40), max_size=4),
    compact=st.booleans(),
)
def test_any_split_into_ingestions_gives_the_same_answers(
    new_world: Any,
    catalog: dict[str, Any],
    log: list[Event],
    cuts: list[int],
    compact: bool,
) -> None:
    world: World = new_world(catalog)
    model = Model(catalog)
    bounds = [0, *sorted(min(c, len(log)) for c in cuts), len(log)]
    accepted = duplicates = 0
    for start, end in itertools.pairwise(bounds):
        got = world.ingest(log[start:end])
        assert got.rejected == []
        accepted, duplicates = accepted + got.accepted, duplicates + got.duplicates
        if compact:
            world.store.compact()
    assert (accepted, duplicates) == model.ingest(log)
    shapes = [SHAPES[0], SHAPES[1], SHAPES[-1], {"by_insertion": True}]
    assert answers(world, shapes) == expected(model, shapes)
    check_entities(world, model)


@SETTINGS
@given(
    catalog=catalogs(budgets=False),
    log=event_logs(),
    order=st.randoms(use_true_random=False),
)
def test_without_budgets_the_order_of_events_does_not_matter(
    new_world: Any, catalog: dict[str, Any], log: list[Event], order: Any
) -> None:
    model = Model(catalog)
    model.ingest(log)
    shuffled = list(log)
    order.shuffle(shuffled)
    world: World = new_world(catalog)
    half = len(shuffled) // 2
    world.ingest(shuffled[:half])
    world.ingest(shuffled[half:])
    shapes = [SHAPES[0], SHAPES[1], SHAPES[-1], {"by_content": True}]
    assert answers(world, shapes) == expected(model, shapes)
