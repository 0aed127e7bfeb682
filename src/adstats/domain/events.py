"""Event types and the counting rule each one follows (SPEC section 2)."""

from enum import Enum


class Counting(Enum):
    """How often events of one type count."""

    ONCE_PER_IMPRESSION = "once per impression_id and type"
    EVERY_EVENT = "every event"


# The order is the metric order of SPEC section 4; a type's index is its code in
# storage, so it must only ever be appended to.
EVENT_TYPES: tuple[str, ...] = (
    "impression",
    "visible_impression",
    "engagement",
    "vote",
    "click",
    "form_submission",
    "optin_submission",
    "video_impression",
    "video_visible_impression",
    "video_start",
    "video_first_quartile",
    "video_midpoint",
    "video_third_quartile",
    "video_complete",
)

TYPE_CODES: dict[str, int] = {name: code for code, name in enumerate(EVENT_TYPES)}

EVERY_EVENT_TYPES = frozenset({"vote", "click", "form_submission", "optin_submission"})


def counting(event_type: str) -> Counting:
    if event_type in EVERY_EVENT_TYPES:
        return Counting.EVERY_EVENT
    return Counting.ONCE_PER_IMPRESSION


ONCE_PER_IMPRESSION_CODES: tuple[int, ...] = tuple(
    TYPE_CODES[t] for t in EVENT_TYPES if counting(t) is Counting.ONCE_PER_IMPRESSION
)

MAX_ID_LENGTH = 64
MAX_FUTURE_SECONDS = 5 * 60
