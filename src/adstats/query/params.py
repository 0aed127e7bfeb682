"""Query parameters: parsed and checked, with messages that say what to change."""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from adstats.errors import BadRequest
from adstats.keys.secrets import SECRET_PREFIX

MAX_RANGE_DAYS = 3660
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TRUE = {"true", "1"}
_FALSE = {"false", "0"}

AUTH_PARAMS = ("api_key",)
RANGE_PARAMS = ("date_from", "date_to", "by_day", "format")
CAMPAIGN_BREAKDOWNS = ("by_insertion", "by_content", "by_creative")
FORMATS = ("json", "csv")
_ECHO_LIMIT = 24


@dataclass(frozen=True)
class StatsQuery:
    date_from: date
    date_to: date
    by_day: bool = False
    by_insertion: bool = False
    by_content: bool = False
    by_creative: bool = False
    format: str = "json"


def echo(value: str) -> str:
    """A request value quoted back in an error: short, and never a key.

    Keys belong in api_key or a header, but a client may put one anywhere;
    an error must not repeat it.
    """
    if SECRET_PREFIX in value or len(value) > _ECHO_LIMIT:
        return "the value given"
    return repr(value)


def parse_stats_query(
    params: Iterable[tuple[str, str]],
    allowed: Iterable[str],
    timezone: str,
    today: date | None = None,
) -> StatsQuery:
    values = _single_values(params, set(allowed) | set(AUTH_PARAMS))
    today = today or datetime.now(ZoneInfo(timezone)).date()
    date_from, date_to = _date_range(values, today)
    output_format = values.get("format", "json")
    if output_format not in FORMATS:
        raise BadRequest(
            f"format must be one of {', '.join(FORMATS)}, not {echo(output_format)}"
        )
    return StatsQuery(
        date_from=date_from,
        date_to=date_to,
        by_day=_boolean(values, "by_day"),
        by_insertion=_boolean(values, "by_insertion"),
        by_content=_boolean(values, "by_content"),
        by_creative=_boolean(values, "by_creative"),
        format=output_format,
    )


def _single_values(
    params: Iterable[tuple[str, str]], allowed: set[str]
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in params:
        if name not in allowed:
            raise BadRequest(
                f"unknown parameter {echo(name)}; allowed: {', '.join(sorted(allowed))}"
            )
        if name in values:
            raise BadRequest(f"parameter {echo(name)} is given more than once")
        values[name] = value
    return values


def _boolean(values: Mapping[str, str], name: str) -> bool:
    raw = values.get(name)
    if raw is None:
        return False
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise BadRequest(f"{name} must be true, false, 1 or 0, not {echo(raw)}")


def _date(values: Mapping[str, str], name: str) -> date | None:
    raw = values.get(name)
    if raw is None:
        return None
    if not _DATE.fullmatch(raw):
        raise BadRequest(f"{name} must be a day written YYYY-MM-DD, not {echo(raw)}")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"{name} {raw!r} is not a real day of the calendar") from None


def _date_range(values: Mapping[str, str], today: date) -> tuple[date, date]:
    """A missing end is yesterday, unless that would reverse the range: then it
    equals the other end."""
    yesterday = today - timedelta(days=1)
    date_from, date_to = _date(values, "date_from"), _date(values, "date_to")
    if date_from is None:
        date_from = yesterday if date_to is None or date_to >= yesterday else date_to
    if date_to is None:
        date_to = yesterday if date_from <= yesterday else date_from
    if date_from > date_to:
        raise BadRequest(f"date_from {date_from} is after date_to {date_to}")
    days = (date_to - date_from).days + 1
    if days > MAX_RANGE_DAYS:
        raise BadRequest(f"the range has {days} days; the most is {MAX_RANGE_DAYS}")
    return date_from, date_to
