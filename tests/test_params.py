"""Query parameters (SPEC section 6): dates and their defaults, booleans,
unknown and repeated parameters, each refused with a message naming it."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adstats.errors import BadRequest
from adstats.query.params import (
    CAMPAIGN_BREAKDOWNS,
    RANGE_PARAMS,
    StatsQuery,
    parse_stats_query,
)

CAMPAIGN_PARAMS = RANGE_PARAMS + CAMPAIGN_BREAKDOWNS
TODAY = date(2023, 6, 10)
YESTERDAY = date(2023, 6, 9)
BOOLEANS = ("by_day", "by_insertion", "by_content", "by_creative")


def parse(
    *pairs: tuple[str, str],
    allowed: tuple[str, ...] = CAMPAIGN_PARAMS,
    timezone: str = "UTC",
    today: date | None = TODAY,
) -> StatsQuery:
    return parse_stats_query(list(pairs), allowed, timezone, today)


def refused(*pairs: tuple[str, str], allowed: tuple[str, ...] = CAMPAIGN_PARAMS) -> str:
    with pytest.raises(BadRequest) as error:
        parse(*pairs, allowed=allowed)
    assert error.value.status == 400
    return error.value.message


# -- dates --------------------------------------------------------------------------


def test_without_parameters_the_range_is_yesterday() -> None:
    assert parse() == StatsQuery(date_from=YESTERDAY, date_to=YESTERDAY)


def test_defaults_are_false_and_json() -> None:
    query = parse(("date_from", "2023-01-01"), ("date_to", "2023-01-31"))
    assert query == StatsQuery(
        date_from=date(2023, 1, 1),
        date_to=date(2023, 1, 31),
        by_day=False,
        by_insertion=False,
        by_content=False,
        by_creative=False,
        format="json",
    )


@pytest.mark.parametrize(
    ("given_from", "given_to", "expected"),
    [
        # a missing end is yesterday...
        ("2023-06-01", None, ("2023-06-01", "2023-06-09")),
        ("2023-06-09", None, ("2023-06-09", "2023-06-09")),
        (None, "2023-06-09", ("2023-06-09", "2023-06-09")),
        (None, "2023-06-12", ("2023-06-09", "2023-06-12")),
        (None, "2023-06-10", ("2023-06-09", "2023-06-10")),
        # ...unless that would reverse the range: then it is the other end
        ("2023-06-10", None, ("2023-06-10", "2023-06-10")),
        ("2023-07-01", None, ("2023-07-01", "2023-07-01")),
        (None, "2023-06-08", ("2023-06-08", "2023-06-08")),
        (None, "2020-01-01", ("2020-01-01", "2020-01-01")),
    ],
)
def test_a_missing_end_defaults_to_yesterday_or_the_other_end(
    given_from: str | None, given_to: str | None, expected: tuple[str, str]
) -> None:
    pairs = [(n, v) for n, v in (("date_from", given_from), ("date_to", given_to)) if v]
    query = parse(*pairs)
    assert (query.date_from.isoformat(), query.date_to.isoformat()) == expected


@settings(max_examples=300, derandomize=True, database=None, deadline=None)
@given(
    today=st.dates(date(2001, 1, 1), date(2090, 1, 1)),
    date_from=st.none() | st.integers(-40, 40),
    date_to=st.none() | st.integers(-40, 40),
)
def test_the_date_defaulting_rule(
    today: date, date_from: int | None, date_to: int | None
) -> None:
    """Offsets are in days from today. Independently of the code: a given end
    is kept; a missing one is yesterday unless the other one is given and
    yesterday would reverse the range, then it equals the other one."""
    yesterday = today - timedelta(days=1)
    given_from = None if date_from is None else today + timedelta(days=date_from)
    given_to = None if date_to is None else today + timedelta(days=date_to)
    pairs = [
        (name, value.isoformat())
        for name, value in (("date_from", given_from), ("date_to", given_to))
        if value is not None
    ]
    if given_from is not None and given_to is not None and given_from > given_to:
        with pytest.raises(BadRequest):
            parse(*pairs, today=today)
        return
    expected_from = given_from or (
        given_to if given_to is not None and given_to < yesterday else yesterday
    )
    expected_to = given_to or (
        given_from if given_from is not None and given_from > yesterday else yesterday
    )
    query = parse(*pairs, today=today)
    assert (query.date_from, query.date_to) == (expected_from, expected_to)
    assert query.date_from <= query.date_to


@pytest.mark.parametrize(
    "timezone", ["Pacific/Kiritimati", "Pacific/Pago_Pago", "UTC", "Asia/Kolkata"]
)
def test_yesterday_is_in_the_account_timezone(timezone: str) -> None:
    for _attempt in range(3):
        before = datetime.now(ZoneInfo(timezone)).date()
        query = parse(timezone=timezone, today=None)
        after = datetime.now(ZoneInfo(timezone)).date()
        if before == after:  # not across a midnight of that zone
            yesterday = before - timedelta(days=1)
            assert (query.date_from, query.date_to) == (yesterday, yesterday)
            return
    pytest.fail("the clock kept crossing midnight")


def test_zones_a_day_apart_have_different_yesterdays() -> None:
    # Kiritimati (+14) and Pago Pago (-11) are 25 hours apart: at any instant
    # their calendar days differ by one or two.
    ahead = parse(timezone="Pacific/Kiritimati", today=None).date_from
    behind = parse(timezone="Pacific/Pago_Pago", today=None).date_from
    assert (ahead - behind).days in (1, 2)


@pytest.mark.parametrize(
    "value",
    [
        "2023-02-30",
        "2023-02-29",
        "2023-04-31",
        "2023-13-01",
        "2023-00-10",
        "2023-01-00",
        "2023-01-32",
        "0000-01-01",
    ],
)
@pytest.mark.parametrize("name", ["date_from", "date_to"])
def test_impossible_dates_are_refused(name: str, value: str) -> None:
    message = refused((name, value))
    assert name in message
    assert value in message


def test_a_leap_day_is_a_real_day() -> None:
    query = parse(("date_from", "2024-02-29"), ("date_to", "2024-02-29"))
    assert query.date_from == date(2024, 2, 29)


@pytest.mark.parametrize(
    "value",
    [
        "2023-1-1",
        "20230101",
        "2023/01/01",
        "01-01-2023",
        "2023-01-01T00:00:00",
        "2023-01-01Z",
        " 2023-01-01",
        "2023-01-01 ",
        "",
        "yesterday",
        "2023-W01-1",
        "+2023-01-01",
    ],
)
def test_malformed_dates_are_refused(value: str) -> None:
    assert "date_to" in refused(("date_from", "2023-01-01"), ("date_to", value))


def test_date_from_after_date_to_is_refused() -> None:
    message = refused(("date_from", "2023-01-02"), ("date_to", "2023-01-01"))
    assert "date_from" in message
    assert "date_to" in message


def test_a_range_of_3660_days_is_the_most() -> None:
    first = date(2010, 1, 1)
    last = first + timedelta(days=3659)
    query = parse(("date_from", first.isoformat()), ("date_to", last.isoformat()))
    assert (query.date_to - query.date_from).days + 1 == 3660
    message = refused(
        ("date_from", first.isoformat()),
        ("date_to", (last + timedelta(days=1)).isoformat()),
    )
    assert "3660" in message.replace(",", "")


# -- booleans and format ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("true", True),
        ("TRUE", True),
        ("True", True),
        ("tRuE", True),
        ("1", True),
        ("false", False),
        ("FALSE", False),
        ("False", False),
        ("fAlSe", False),
        ("0", False),
    ],
)
@pytest.mark.parametrize("name", BOOLEANS)
def test_booleans_accept_true_false_1_0_in_any_case(
    name: str, value: str, expected: bool
) -> None:
    query = parse((name, value))
    assert getattr(query, name) is expected
    assert [getattr(query, other) for other in BOOLEANS if other != name] == [
        False,
        False,
        False,
    ]


@pytest.mark.parametrize(
    "value", ["", "yes", "no", "on", "off", "t", "f", "2", "-1", "01", " true", "truee"]
)
@pytest.mark.parametrize("name", BOOLEANS)
def test_bad_booleans_are_refused(name: str, value: str) -> None:
    assert name in refused((name, value))


def test_all_breakdowns_at_once() -> None:
    query = parse(
        ("by_day", "1"),
        ("by_insertion", "true"),
        ("by_content", "TRUE"),
        ("by_creative", "True"),
        ("format", "csv"),
    )
    assert query == StatsQuery(YESTERDAY, YESTERDAY, True, True, True, True, "csv")


@pytest.mark.parametrize("value", ["xml", "JSON", "", "json "])
def test_unknown_formats_are_refused(value: str) -> None:
    assert "format" in refused(("format", value))


# -- unknown and repeated parameters ------------------------------------------------


@pytest.mark.parametrize(
    "name", ["by_week", "date", "datefrom", "Date_From", "by_campaign", "apikey", ""]
)
def test_unknown_parameters_are_refused(name: str) -> None:
    message = refused((name, "1"))
    assert repr(name) in message or f"'{name}'" in message or name in message


@pytest.mark.parametrize("name", CAMPAIGN_BREAKDOWNS)
def test_breakdowns_are_unknown_to_the_entity_family(name: str) -> None:
    assert name in refused((name, "true"), allowed=RANGE_PARAMS)


def test_the_api_key_parameter_is_always_allowed() -> None:
    assert parse(("api_key", "secret"), allowed=RANGE_PARAMS) == StatsQuery(
        YESTERDAY, YESTERDAY
    )


@pytest.mark.parametrize(
    "pairs",
    [
        [("date_from", "2023-01-01"), ("date_from", "2023-01-01")],
        [("date_from", "2023-01-01"), ("date_from", "2023-01-02")],
        [("by_day", "true"), ("by_day", "true")],
        [("by_day", "true"), ("by_day", "false")],
        [("format", "json"), ("format", "csv")],
        [("api_key", "a"), ("api_key", "b")],
    ],
)
def test_repeated_parameters_are_refused(pairs: list[tuple[str, str]]) -> None:
    assert pairs[0][0] in refused(*pairs)


def test_messages_never_echo_an_api_key() -> None:
    message = refused(("api_key", "s3cr3t-key"), ("api_key", "s3cr3t-key"))
    assert "s3cr3t-key" not in message
