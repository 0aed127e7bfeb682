"""Which counted events are billable, and what each costs (SPEC section 5).

An event is billable when it counts, is of its insertion's billable type, and
its cost still fits in what is left of both its insertion's and its campaign's
budget, taking events in ingestion order. "Fits" means the spent after it stays
within the budget, so a later, cheaper event may still be billed when a dearer
one no longer fits: spent never exceeds a budget and nothing is over-charged.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from adstats.domain.events import TYPE_CODES

# pricing model -> (billable event type, price divisor)
PRICING_MODELS: dict[str, tuple[str, int]] = {
    "cpm": ("impression", 1000),
    "vcpm": ("visible_impression", 1000),
    "cpc": ("click", 1),
    "cpe": ("engagement", 1),
    "cpv": ("video_start", 1),
    "cpcv": ("video_complete", 1),
}


def billable_type_code(pricing_model: str) -> int:
    return TYPE_CODES[PRICING_MODELS[pricing_model][0]]


def unit_cost_nanos(pricing_model: str, price_nanos: int) -> int:
    """The cost of one billable event, exact: the catalog refuses prices that
    would not divide into whole nanos."""
    divisor = PRICING_MODELS[pricing_model][1]
    cost, remainder = divmod(price_nanos, divisor)
    if remainder:
        raise ValueError("price has too many decimal places for its pricing model")
    return cost


@dataclass
class Budget:
    """What is left of a budget, or None for no budget."""

    remaining: int | None

    def fits(self, cost: int) -> bool:
        return self.remaining is None or cost <= self.remaining

    def spend(self, cost: int) -> None:
        if self.remaining is not None:
            self.remaining -= cost


@dataclass(frozen=True)
class Candidate:
    """A counted event of its insertion's billable type, in ingestion order."""

    position: int
    insertion: int
    campaign: int
    cost: int


def decide_billable(
    candidates: Sequence[Candidate],
    insertion_budgets: dict[int, Budget],
    campaign_budgets: dict[int, Budget],
) -> list[int]:
    """Positions of the billable candidates, walking them in ingestion order.

    The budgets are spent as a side effect, so they hold what is left after.
    """
    billable: list[int] = []
    for candidate in candidates:
        by_insertion = insertion_budgets[candidate.insertion]
        by_campaign = campaign_budgets[candidate.campaign]
        if by_insertion.fits(candidate.cost) and by_campaign.fits(candidate.cost):
            by_insertion.spend(candidate.cost)
            by_campaign.spend(candidate.cost)
            billable.append(candidate.position)
    return billable
