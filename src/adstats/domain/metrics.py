"""The metrics of an answer row (SPEC section 4) and how the rates derive.

Counters arrive from storage in EVENT_TYPES order; the two families of
endpoints name and order them differently but compute them the same way.
"""

from collections.abc import Sequence
from typing import Any

from adstats.domain.events import TYPE_CODES
from adstats.domain.money import in_minor_units, minor_units

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
    "impressions": "impression",
    "visible_impressions": "visible_impression",
    "engagements": "engagement",
    "votes": "vote",
    "clicks": "click",
    "video_impressions": "video_impression",
    "video_visible_impressions": "video_visible_impression",
    "video_starts": "video_start",
    "video_first_quartiles": "video_first_quartile",
    "video_midpoints": "video_midpoint",
    "video_third_quartiles": "video_third_quartile",
    "video_completes": "video_complete",
}


def rate(numerator: int, denominator: int) -> float:
    """A fraction rounded half-up to 6 places; 0 when the denominator is 0.

    Integer arithmetic gives the exact rounded decimal; dividing it by 10**6
    gives the float nearest to it, whose shortest spelling is those digits.
    """
    if denominator == 0:
        return 0.0
    millionths = (numerator * 2_000_000 + denominator) // (2 * denominator)
    return millionths / 1_000_000


def spent_number(nanos: int, currency: str) -> int | float:
    """Spent as the JSON number shown: an integer for currencies without a
    minor unit, else the amount rounded half-up to it (its float spells the
    same digits)."""
    places = minor_units(currency)
    minor = in_minor_units(nanos, currency)
    return minor if places == 0 else float(minor / 10**places)


_CAMPAIGN_CODES = [TYPE_CODES[event] for event in _CAMPAIGN_COUNTERS.values()]
_CLICKS, _VISIBLE = TYPE_CODES["click"], TYPE_CODES["visible_impression"]
_COMPLETE, _START = TYPE_CODES["video_complete"], TYPE_CODES["video_start"]
_ENTITY_CODES = [TYPE_CODES[event] for event in _ENTITY_COUNTERS.values()]


def campaign_metrics(measures: Sequence[int], currency: str) -> list[Any]:
    """The values of CAMPAIGN_METRICS, in order. measures: the 14 counters in
    EVENT_TYPES order, then billables and spent nanos."""
    values: list[Any] = [int(measures[code]) for code in _CAMPAIGN_CODES]
    values.insert(5, rate(int(measures[_CLICKS]), int(measures[_VISIBLE])))
    values.append(rate(int(measures[_COMPLETE]), int(measures[_START])))
    values.append(int(measures[-2]))
    values.append(spent_number(int(measures[-1]), currency))
    return values


def entity_metrics(measures: Sequence[int], currency: str) -> list[Any]:
    """The values of ENTITY_METRICS, in order."""
    values: list[Any] = [int(measures[code]) for code in _ENTITY_CODES]
    values.append(int(measures[-2]))
    values.append(spent_number(int(measures[-1]), currency))
    return values
