"""The metrics of an answer row (SPEC section 4) and how the rates derive.

Counters arrive from storage in EVENT_TYPES order; the two families of
endpoints name and order them differently but compute them the same way.
"""

from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from adstats.domain.events import TYPE_CODES
from adstats.domain.money import minor_units, shown

_SIX_PLACES = Decimal("0.000001")

CAMPAIGN_METRICS: tuple[str, ...] = (
    "impressions",
    "visible_impressions",
    "engagements",
    "votes",
    "clicks",
    "click_through_rate",
    "form_submissions",
    "optin_submissions",
    "video_impressions",
    "video_visible_impressions",
    "video_start",
    "video_first_quartile",
    "video_midpoint",
    "video_third_quartile",
    "video_complete",
    "video_complete_rate",
    "billables",
    "spent",
)

# metric name -> event type it counts, for the campaign family
_CAMPAIGN_COUNTERS = {
    "impressions": "impression",
    "visible_impressions": "visible_impression",
    "engagements": "engagement",
    "votes": "vote",
    "clicks": "click",
    "form_submissions": "form_submission",
    "optin_submissions": "optin_submission",
    "video_impressions": "video_impression",
    "video_visible_impressions": "video_visible_impression",
    "video_start": "video_start",
    "video_first_quartile": "video_first_quartile",
    "video_midpoint": "video_midpoint",
    "video_third_quartile": "video_third_quartile",
    "video_complete": "video_complete",
}

ENTITY_METRICS: tuple[str, ...] = (
    "impressions",
    "visible_impressions",
    "engagements",
    "votes",
    "clicks",
    "video_impressions",
    "video_visible_impressions",
    "video_starts",
    "video_first_quartiles",
    "video_midpoints",
    "video_third_quartiles",
    "video_completes",
    "billables",
    "spent",
)

_ENTITY_COUNTERS = {
    **{k: v for k, v in _CAMPAIGN_COUNTERS.items() if not k.startswith("video")},
    "video_impressions": "video_impression",
    "video_visible_impressions": "video_visible_impression",
    "video_starts": "video_start",
    "video_first_quartiles": "video_first_quartile",
    "video_midpoints": "video_midpoint",
    "video_third_quartiles": "video_third_quartile",
    "video_completes": "video_complete",
}


def rate(numerator: int, denominator: int) -> float:
    """A fraction rounded half-up to 6 places; 0 when the denominator is 0."""
    if denominator == 0:
        return 0.0
    exact = Decimal(numerator) / Decimal(denominator)
    return float(exact.quantize(_SIX_PLACES, rounding=ROUND_HALF_UP))


def spent_number(nanos: int, currency: str) -> int | float:
    """Spent as the JSON number shown: an integer for currencies without a
    minor unit, else the rounded decimal (its shortest float spelling is the
    same digits)."""
    amount = shown(nanos, currency)
    return int(amount) if minor_units(currency) == 0 else float(amount)


def campaign_metrics(measures: Sequence[int], currency: str) -> dict[str, Any]:
    """measures: the 14 counters in EVENT_TYPES order, billables, spent nanos."""
    counters = {
        name: int(measures[TYPE_CODES[event]])
        for name, event in _CAMPAIGN_COUNTERS.items()
    }
    row: dict[str, Any] = {}
    for name in CAMPAIGN_METRICS:
        if name in counters:
            row[name] = counters[name]
    row["click_through_rate"] = rate(
        counters["clicks"], counters["visible_impressions"]
    )
    row["video_complete_rate"] = rate(
        counters["video_complete"], counters["video_start"]
    )
    row["billables"] = int(measures[-2])
    row["spent"] = spent_number(int(measures[-1]), currency)
    return {name: row[name] for name in CAMPAIGN_METRICS}


def entity_metrics(measures: Sequence[int], currency: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        name: int(measures[TYPE_CODES[event]])
        for name, event in _ENTITY_COUNTERS.items()
    }
    row["billables"] = int(measures[-2])
    row["spent"] = spent_number(int(measures[-1]), currency)
    return {name: row[name] for name in ENTITY_METRICS}
