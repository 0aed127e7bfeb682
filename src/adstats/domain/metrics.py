"""The metrics of an answer row (SPEC section 4) and how each derives.

Storage sums a counter per event type; the two families of endpoints name and
order the metrics differently but derive them the same way: a counter, a rate
of two counters, the billable events or the spent (domain.metric_columns).
"""

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

# rate metric -> (numerator, denominator): the event types whose counters divide
RATES: dict[str, tuple[str, str]] = {
    "click_through_rate": ("click", "visible_impression"),
    "video_complete_rate": ("video_complete", "video_start"),
}
RATE_PLACES = 6
RATE_SCALE: int = 10**RATE_PLACES  # a rate counted in millionths

# metric -> the event type it counts, for both families
COUNTERS: dict[str, str] = {**_CAMPAIGN_COUNTERS, **_ENTITY_COUNTERS}


def rate_millionths(numerator: int, denominator: int) -> int:
    """A fraction rounded half-up to RATE_PLACES places, counted in millionths;
    0 when the denominator is 0. Exact integer arithmetic: the answer shows
    these digits (0.018109), never a binary approximation of the division."""
    if denominator == 0:
        return 0
    return (numerator * 2 * RATE_SCALE + denominator) // (2 * denominator)
