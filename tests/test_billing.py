"""Billing (SPEC section 5): pricing models, budgets in ingestion order, exact
decimals rounded half-up to the currency's minor unit, prices in force at
ingestion. Expected numbers are worked by hand, and checked against the model.
"""

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from support.model import EVENT_TYPES, Model
from support.world import (
    A1,
    C1,
    C2,
    I1,
    I2,
    I3,
    R2,
    Event,
    World,
    event,
    standard_catalog,
)

DAY = date(2023, 1, 10)


class Both:
    """The real world and the model, fed the same catalogs and events."""

    def __init__(self, path: Path, catalog: dict[str, Any]) -> None:
        self.world = World(path, catalog)
        self.model = Model(catalog)

    def load(self, catalog: dict[str, Any]) -> None:
        self.world.load(catalog)
        self.model.load(catalog)

    def ingest(self, events: list[Event]) -> None:
        got = self.world.ingest(events)
        assert got.rejected == []
        assert (got.accepted, got.duplicates) == self.model.ingest(events)

    def rows(self, **shape: Any) -> list[dict[str, Any]]:
        """The answer, after checking it equals the model's."""
        first, last = shape.pop("date_from", DAY), shape.pop("date_to", DAY)
        rows = self.world.campaigns(first, last, **shape)
        assert rows == self.model.campaign_rows(A1, first, last, **shape)
        return rows

    def spent(self, **shape: Any) -> list[tuple[Any, ...]]:
        """(billables, spent) of each row, keyed by its insertion when broken
        down by insertion."""
        rows = self.rows(**shape)
        for row in rows:
            assert type(row["spent"]) in (int, float)
        if shape.get("by_insertion"):
            return [(r["insertion_id"], r["billables"], r["spent"]) for r in rows]
        return [(r["billables"], r["spent"]) for r in rows]


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[Both] = []

    def factory(**catalog: Any) -> Both:
        both = Both(tmp_path / f"db{len(made)}.duckdb", standard_catalog(**catalog))
        made.append(both)
        return both

    yield factory
    for both in made:
        both.world.close()


def clicks(prefix: str, insertions: list[str]) -> list[Event]:
    return [
        event(f"{prefix}{n}", "click", f"imp-{prefix}{n}", insertion_id=ins)
        for n, ins in enumerate(insertions)
    ]


def impressions(prefix: str, count: int, insertion_id: str = I1) -> list[Event]:
    return [
        event(f"{prefix}{n}", "impression", f"{prefix}{n}", insertion_id=insertion_id)
        for n in range(count)
    ]


# -- pricing models -----------------------------------------------------------------


def every_type_thrice_and_repeats() -> list[Event]:
    """Three impressions with one event of every type, then every type again
    under new ids for the first impression: once-per-impression types count 3,
    the every-event types 4."""
    lines = [
        event(f"{imp}-{t}", t, imp)
        for imp in ("imp0", "imp1", "imp2")
        for t in EVENT_TYPES
    ]
    lines += [event(f"again-{t}", t, "imp0") for t in EVENT_TYPES]
    return lines


@pytest.mark.parametrize(
    ("model", "price", "billables", "spent"),
    [
        ("cpm", "2.50", 3, 0.01),  # 3 x 0.0025 = 0.0075
        ("vcpm", "7.00", 3, 0.02),  # 3 x 0.007 = 0.021
        ("cpc", "0.35", 4, 1.4),  # 4 x 0.35 (clicks count every event)
        ("cpe", "0.125", 3, 0.38),  # 3 x 0.125 = 0.375
        ("cpv", "0.05", 3, 0.15),
        ("cpcv", "1.005", 3, 3.02),  # 3.015; as a binary float it would be 3.01
    ],
)
def test_each_pricing_model_bills_its_event(
    make: Any, model: str, price: str, billables: int, spent: float
) -> None:
    both = make(i1=(model, price, None))
    both.ingest(every_type_thrice_and_repeats())
    row = both.rows()[0]
    assert (row["billables"], row["spent"]) == (billables, spent)
    assert (row["impressions"], row["clicks"], row["video_complete"]) == (3, 4, 3)
    # a replay bills nothing more
    both.ingest(every_type_thrice_and_repeats())
    assert both.spent() == [(billables, spent)]


@pytest.mark.parametrize(
    ("currency", "model", "price", "count", "spent"),
    [
        ("JPY", "cpm", "150", 2, 0),  # 0.3
        ("JPY", "cpm", "150", 5, 1),  # 0.75
        ("JPY", "cpm", "500", 1, 1),  # 0.5: half-up (half-even would give 0)
        ("JPY", "cpm", "500", 5, 3),  # 2.5: half-up (half-even would give 2)
        ("JPY", "cpc", "100", 3, 300),
        ("EUR", "cpm", "2.5", 1, 0.0),  # 0.0025
        ("EUR", "cpm", "2.5", 2, 0.01),  # 0.005: half-up (half-even: 0.00)
        ("EUR", "cpm", "2.5", 6, 0.02),  # 0.015
        ("EUR", "cpm", "2.5", 10, 0.03),  # 0.025: half-up (half-even: 0.02)
        ("EUR", "cpm", "2.5", 18, 0.05),  # 0.045: half-up (half-even: 0.04)
        ("USD", "cpc", "0.105", 1, 0.11),  # the float 0.105 would round to 0.10
        ("KWD", "cpm", "2.5", 1, 0.003),  # 0.0025: half-up (half-even: 0.002)
        ("KWD", "cpm", "2.5", 3, 0.008),  # 0.0075
        ("KWD", "cpm", "2.5", 5, 0.013),  # 0.0125
        ("KWD", "cpc", "1.2345", 2, 2.469),
        ("KWD", "cpc", "1.0005", 1, 1.001),
    ],
)
def test_spent_is_rounded_half_up_to_the_minor_unit(
    make: Any, currency: str, model: str, price: str, count: int, spent: float
) -> None:
    both = make(currency=currency, i1=(model, price, None))
    if model == "cpm":
        both.ingest(impressions("e", count))
    else:
        both.ingest(clicks("e", [I1] * count))
    assert both.spent() == [(count, spent)]
    shown = both.world.campaign(DAY)["spent"]
    assert isinstance(shown, int) if currency == "JPY" else isinstance(shown, float)


def test_exact_decimals_over_many_events_and_batches(make: Any) -> None:
    # cpm 0.01 costs 0.00001 an impression: 500 of them are exactly 0.005,
    # shown 0.01; adding 0.00001 500 times in binary floating point gives
    # 0.004999999999999... which would show 0.00
    both = make(i1=("cpm", "0.01", None), i3=("cpv", "0.000001", None))
    for batch in range(10):
        both.ingest(impressions(f"b{batch}-", 50))
    both.ingest(
        [
            event(f"v{n}", "video_start", f"v{n}", insertion_id=I3, creative_id=R2)
            for n in range(5000)
        ]
    )
    assert both.spent(campaign_id=C1) == [(500, 0.01)]
    # 5000 x 0.000001 = 0.005 -> 0.01
    assert both.spent(campaign_id=C2) == [(5000, 0.01)]


def test_sub_nano_free_prices_add_up_in_kwd(make: Any) -> None:
    # cpm 0.001 costs 0.000001 an impression; 1500 of them are 0.0015 -> 0.002
    both = make(currency="KWD", i1=("cpm", "0.001", None))
    both.ingest(impressions("e", 1500))
    assert both.spent() == [(1500, 0.002)]


# -- budgets ------------------------------------------------------------------------


def test_an_insertion_budget_caps_its_spent(make: Any) -> None:
    both = make(i2=("cpc", "0.50", "1.20"))
    both.ingest(clicks("e", [I2] * 4))
    # 0.50 + 0.50 fit in 1.20; a third would make 1.50
    row = both.rows()[0]
    assert (row["clicks"], row["billables"], row["spent"]) == (4, 2, 1.0)


def test_a_budget_is_spent_exactly_to_the_last_unit(make: Any) -> None:
    both = make(i2=("cpc", "0.50", "1.50"))
    both.ingest(clicks("e", [I2] * 5))
    assert both.spent() == [(3, 1.5)]


def test_a_campaign_budget_is_shared_across_insertions_in_ingestion_order(
    make: Any,
) -> None:
    both = make(c1_budget="1.00", i1=("cpc", "0.40", None), i2=("cpc", "0.30", None))
    # I1 0.40 (0.60 left), I2 0.30 (0.30 left), I1 0.40 does not fit,
    # I2 0.30 fits (0 left), I2 does not fit
    both.ingest(clicks("e", [I1, I2, I1, I2, I2]))
    assert both.spent(by_insertion=True) == [(I1, 1, 0.4), (I2, 2, 0.6)]
    assert both.spent() == [(3, 1.0)]
    assert both.rows()[0]["clicks"] == 5
    per_insertion = both.world.entities("insertions", DAY)
    assert [(r["insertion_id"], r["clicks"], r["spent"]) for r in per_insertion] == [
        (I1, 2, 0.4),
        (I2, 3, 0.6),
    ]


def test_ingestion_order_decides_who_is_billed(make: Any) -> None:
    both = make(c1_budget="1.00", i1=("cpc", "0.40", None), i2=("cpc", "0.30", None))
    # I1 0.40, I1 0.40 (0.20 left): no click of I2 fits any more
    both.ingest(clicks("e", [I1, I1, I2, I2, I2]))
    assert both.spent(by_insertion=True) == [(I1, 2, 0.8), (I2, 0, 0.0)]


def test_budgets_hold_across_batches_of_one_event(make: Any) -> None:
    both = make(c1_budget="1.00", i1=("cpc", "0.40", None), i2=("cpc", "0.30", None))
    for one in clicks("e", [I1, I2, I1, I2, I2]):
        both.ingest([one])
    assert both.spent(by_insertion=True) == [(I1, 1, 0.4), (I2, 2, 0.6)]


def test_a_batch_that_fits_then_a_batch_that_does_not(make: Any) -> None:
    both = make(i2=("cpc", "0.50", "2.00"))
    both.ingest(clicks("a", [I2] * 3))  # 1.50, fits whole
    both.ingest(clicks("b", [I2] * 3))  # only one more fits
    assert both.spent() == [(4, 2.0)]
    assert both.rows()[0]["clicks"] == 6


def test_a_cheaper_later_event_is_billed_when_a_dearer_one_no_longer_fits(
    make: Any,
) -> None:
    # an impression of I1 costs 1.00 (cpm 1000), a click of I2 0.25; budget 1.50
    both = make(c1_budget="1.50", i1=("cpm", "1000", None), i2=("cpc", "0.25", None))
    both.ingest(
        [
            event("i0", "impression", "imp0"),  # 1.00, 0.50 left
            event("i1", "impression", "imp1"),  # does not fit
            event("c0", "click", "imp0", insertion_id=I2),  # 0.25, 0.25 left
            event("i2", "impression", "imp2"),  # does not fit
            event("c1", "click", "imp0", insertion_id=I2),  # 0.25, 0 left
            event("c2", "click", "imp0", insertion_id=I2),  # does not fit
        ]
    )
    assert both.spent(by_insertion=True) == [(I1, 1, 1.0), (I2, 2, 0.5)]
    row = both.rows()[0]
    assert (row["impressions"], row["clicks"], row["spent"]) == (3, 3, 1.5)


def test_the_tighter_of_insertion_and_campaign_budgets_binds(make: Any) -> None:
    both = make(c1_budget="1.00", i1=("cpc", "0.40", "0.40"), i2=("cpc", "0.30", None))
    # I1 0.40 (its budget gone), I1 refused, I2 0.30, I2 0.30, then C1 has 0
    both.ingest(clicks("e", [I1, I1, I2, I2, I2, I2]))
    assert both.spent(by_insertion=True) == [(I1, 1, 0.4), (I2, 2, 0.6)]


def test_a_budget_binds_cpm_at_the_cost_of_one_impression(make: Any) -> None:
    # an impression costs 0.002; a budget of 0.005 takes two of them
    both = make(i1=("cpm", "2.00", "0.005"), i2=("cpm", "2.00", None))
    both.ingest(impressions("e", 3))
    both.ingest(impressions("f", 3, I2))
    assert both.spent(by_insertion=True) == [(I1, 2, 0.0), (I2, 3, 0.01)]


def test_one_campaign_budget_leaves_the_others_alone(make: Any) -> None:
    both = make(c1_budget="0.50", i2=("cpc", "0.50", None), i3=("cpv", "0.50", None))
    both.ingest(
        clicks("c", [I2] * 3)
        + [
            event(f"v{n}", "video_start", f"v{n}", insertion_id=I3, creative_id=R2)
            for n in range(3)
        ]
    )
    assert both.spent(date_from=DAY) == [(1, 0.5), (3, 1.5)]


def test_over_delivery_is_counted_but_never_billed_on_any_day(make: Any) -> None:
    both = make(i2=("cpc", "1.00", "2.00"))
    both.ingest(
        [
            event(
                f"e{n}", "click", "imp", f"2023-01-{10 + n}T08:00:00Z", insertion_id=I2
            )
            for n in range(4)
        ]
    )
    rows = both.rows(date_from=DAY, date_to=date(2023, 1, 13), by_day=True)
    assert [(r["date"], r["clicks"], r["billables"], r["spent"]) for r in rows] == [
        ("2023-01-10", 1, 1, 1.0),
        ("2023-01-11", 1, 1, 1.0),
        ("2023-01-12", 1, 0, 0.0),
        ("2023-01-13", 1, 0, 0.0),
    ]


def test_a_raised_budget_bills_later_events_only(make: Any) -> None:
    both = make(i2=("cpc", "0.50", "1.00"))
    first = clicks("a", [I2] * 3)
    both.ingest(first)
    assert both.spent() == [(2, 1.0)]
    both.load(standard_catalog(i2=("cpc", "0.50", "2.00")))
    both.ingest(first)  # all duplicates: the refused click stays unbilled
    assert both.spent() == [(2, 1.0)]
    both.ingest(clicks("b", [I2] * 3))
    assert both.spent() == [(4, 2.0)]
    assert both.rows()[0]["clicks"] == 6


# -- prices in force at ingestion ---------------------------------------------------


def test_a_price_change_applies_only_to_events_ingested_after_it(make: Any) -> None:
    both = make(i2=("cpc", "0.50", None))
    both.ingest(
        [
            event("a", "click", "imp", "2023-01-10T08:00:00Z", insertion_id=I2),
            event("b", "click", "imp", "2023-01-11T08:00:00Z", insertion_id=I2),
        ]
    )
    both.load(standard_catalog(i2=("cpc", "0.70", None)))
    # an event of an earlier day, ingested after the change, takes the new price
    both.ingest([event("c", "click", "imp", "2023-01-10T09:00:00Z", insertion_id=I2)])
    rows = both.rows(date_from=DAY, date_to=date(2023, 1, 11), by_day=True)
    assert [(r["date"], r["billables"], r["spent"]) for r in rows] == [
        ("2023-01-10", 2, 1.2),
        ("2023-01-11", 1, 0.5),
    ]
    # loading the same catalog again reprices nothing
    both.load(standard_catalog(i2=("cpc", "0.70", None)))
    assert both.spent(date_from=DAY, date_to=date(2023, 1, 11)) == [(3, 1.7)]


def test_a_pricing_model_change_applies_to_later_events(make: Any) -> None:
    both = make(i2=("cpc", "0.50", None))
    both.ingest(
        [
            event("i0", "impression", "imp0", insertion_id=I2),
            event("c0", "click", "imp0", insertion_id=I2),
        ]
    )
    both.load(standard_catalog(i2=("cpm", "2000", None)))
    both.ingest(
        [
            event("i1", "impression", "imp1", insertion_id=I2),
            event("c1", "click", "imp1", insertion_id=I2),
        ]
    )
    # the click before the change (0.50) and the impression after it (2.00)
    assert both.spent() == [(2, 2.5)]


def test_a_price_cut_with_a_budget_lets_more_events_fit(make: Any) -> None:
    both = make(i2=("cpc", "0.40", "1.00"))
    both.ingest(clicks("a", [I2] * 3))  # 0.40 + 0.40; 0.20 left
    both.load(standard_catalog(i2=("cpc", "0.15", "1.00")))
    both.ingest(clicks("b", [I2] * 3))  # one at 0.15 fits; 0.05 left
    assert both.spent() == [(3, 0.95)]


def test_spent_is_never_more_than_a_budget_across_many_batches(make: Any) -> None:
    both = make(c1_budget="7.77", i1=("cpm", "3.33", None), i2=("cpc", "0.33", None))
    for batch in range(6):
        both.ingest(impressions(f"b{batch}i", 700) + clicks(f"b{batch}c", [I2] * 5))
    # an impression costs 0.00333, a click 0.33. Batch 0: 2.331 + 1.65 fit.
    # Batch 1: its 700 impressions (6.312 in all), then 4 clicks (7.632); a 5th
    # would make 7.962. Batch 2: 41 impressions (7.76853); a 42nd would make
    # 7.77186. Then nothing fits.
    assert both.spent() == [(705 + 704 + 41, 7.77)]
    by_insertion = both.spent(by_insertion=True)
    assert by_insertion == [(I1, 1441, 4.8), (I2, 9, 2.97)]
