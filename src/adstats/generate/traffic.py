"""Realistic, deterministic NDJSON event traffic for a catalog (SPEC section 2),
for the demo, the benchmarks and the tests.

Each ad view (one impression_id) goes down a funnel: the impression, perhaps a
visible impression, rarely an engagement followed by clicks, a vote or a form;
video creatives add the video events, with viewers dropping off at each
quartile. Views follow the daily and weekly rhythm of their account's own
timezone, and the campaigns listed first in the catalog get the most traffic,
as in a real account where a few flagship campaigns dominate. A few lines are
exact retries of an earlier line and a few are invalid, so that ingestion
reports have something to say.

The bytes depend only on the arguments, and are written hour by hour, so memory
stays bounded whatever the volume. The hot loop builds lines from pre-made
pieces of text (the `ts` text of every minute of the day, the ids of every
placement) because formatting each event from scratch would be several times
slower.
"""

import bisect
import datetime as dt
import functools
import hashlib
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo

import orjson

from adstats.domain.catalog import Campaign, Catalog, Creative, merge_catalog

# Share of a day's traffic by local hour: quiet at night, a bump on the way to
# work and at lunch, the peak in the evening. Weekend mornings start later.
_WEEKDAY_HOURS = (
    3, 2, 1, 1, 1, 2, 4, 7, 8, 7, 6, 7,  # from midnight
    9, 8, 6, 6, 7, 8, 10, 12, 14, 13, 9, 5,  # from noon
)  # fmt: skip
_WEEKEND_HOURS = (
    4, 3, 2, 1, 1, 1, 2, 3, 5, 7, 8, 9,
    10, 9, 8, 8, 8, 9, 10, 12, 13, 12, 9, 6,
)  # fmt: skip
_WEEKEND_VOLUME = 0.85
_DAY_NOISE = 0.1
_HOUR_NOISE = 0.08

# The k-th campaign of the catalog gets a share of traffic in 1 / k**skew.
_CAMPAIGN_SKEW = 1.2
_CONTENT_SKEW = 0.8
_CONTENT_SHARE = 0.95

# The funnel. Each stage is a share of the stage before it.
_VISIBILITY = (0.58, 0.72)  # per insertion: visible impressions / impressions
_ENGAGEMENT = (0.02, 0.04)  # per insertion: engagements / visible impressions
_CLICK = 0.45
_ANOTHER_CLICK = 0.25
_MAX_CLICKS = 6
_VOTE = 0.2
_FORM = 0.05
_OPTIN = 0.03
_VIDEO_LOADED = 0.97
_VIDEO_VISIBLE = 0.95
_VIDEO_START = 0.75
_QUARTILE_KEEP = (0.8, 0.82, 0.86, 0.9)
_VIDEO_LENGTHS_MS = (15_000, 20_000, 30_000)
_VIDEO_MODELS = frozenset({"cpv", "cpcv"})
_OUTSTREAM_SHARE = 0.3  # non-video insertions that also run a video creative

# How clients write `ts`; the rest is RFC 3339 in UTC with a Z.
_EPOCH_MS_SHARE = 0.05
_LOCAL_OFFSET_SHARE = 0.1

# Funnel events come at most a few minutes after their impression; the texts
# of a day cover this much of the next one.
_SLACK_MINUTES = 10
_FLUSH_LINES = 16_384
_WRITE_LINES = 256
_INVALID_KINDS_MIN_EVENTS = 10_000
_MASK64 = (1 << 64) - 1
_ID_MULTIPLIER = 0x9E3779B97F4A7C15  # odd, so n -> n * it is a bijection


@dataclass(frozen=True)
class GenerateSummary:
    """What was written: every line is one valid event, a duplicate (an exact
    copy of an earlier valid line) or an invalid line."""

    lines: int
    valid_events: int
    duplicates: int
    invalid: int


def generate(
    catalog: dict[str, Any],
    out: BinaryIO,
    *,
    end: dt.date,
    days: int,
    events: int,
    seed: int,
    invalid_rate: float = 0.0005,
    duplicate_rate: float = 0.01,
) -> GenerateSummary:
    """Writes about `events` NDJSON lines for the `days` days ending on `end`
    (inclusive, in each account's timezone) to `out`.

    A campaign runs the creatives of its account whose name starts with its
    advertiser's name, or all of them when none does; campaigns without an
    insertion or a creative get no traffic. Timestamps on `end` can be later
    than now: pass an `end` in the past to ingest everything.
    """
    _check_arguments(days, events, invalid_rate, duplicate_rate)
    stored, _ = merge_catalog(Catalog.empty(), catalog)
    rnd = random.Random(seed)
    accounts = _plan_accounts(stored, rnd)
    if events and not accounts:
        raise ValueError("no campaign has both an insertion and a creative")
    writer = _Writer(out, rnd, _Ids(seed), set(stored.campaigns))
    writer.plan_extras(events, duplicate_rate, invalid_rate)
    first = end - dt.timedelta(days=days - 1)
    _Traffic(rnd, writer, _content_texts(stored, rnd)).run(accounts, first, days)
    return writer.close()


def _check_arguments(
    days: int, events: int, invalid_rate: float, duplicate_rate: float
) -> None:
    if days < 1:
        raise ValueError(f"days must be at least 1, not {days}")
    if events < 0:
        raise ValueError(f"events must be at least 0, not {events}")
    for name, rate in (
        ("invalid_rate", invalid_rate),
        ("duplicate_rate", duplicate_rate),
    ):
        if not 0 <= rate < 0.5:
            raise ValueError(f"{name} must be at least 0 and below 0.5, not {rate}")


# --- what runs where -------------------------------------------------------


@dataclass(frozen=True)
class _Placement:
    """An insertion showing one of its creatives, with its funnel rates."""

    ids_text: str  # the campaign, insertion and creative fields of a line
    visibility: float
    engagement: float
    video_ms: int  # the video's length; 0 for a display creative
    weight: float


@dataclass(frozen=True)
class _AccountPlan:
    zone: ZoneInfo
    share: float
    placements: list[_Placement]
    cum_weights: list[float]
    events_per_view: float


def _plan_accounts(catalog: Catalog, rnd: random.Random) -> list[_AccountPlan]:
    video_ms = {
        creative.id: rnd.choice(_VIDEO_LENGTHS_MS)
        for creative in catalog.creatives.values()
        if creative.format == "video"
    }
    by_account: dict[str, list[_Placement]] = {}
    rank = 0
    for campaign in catalog.campaigns.values():
        share = rnd.uniform(0.85, 1.15) / (rank + 1) ** _CAMPAIGN_SKEW
        placements = _campaign_placements(catalog, campaign, share, video_ms, rnd)
        if placements:
            rank += 1
            by_account.setdefault(campaign.account_id, []).extend(placements)
    total = sum(p.weight for placements in by_account.values() for p in placements)
    return [
        _account_plan(catalog.accounts[account_id].timezone, placements, total)
        for account_id, placements in by_account.items()
    ]


def _account_plan(
    timezone: str, placements: list[_Placement], total: float
) -> _AccountPlan:
    weight = sum(p.weight for p in placements)
    events = sum(p.weight * _expected_events(p) for p in placements)
    return _AccountPlan(
        zone=ZoneInfo(timezone),
        share=weight / total,
        placements=placements,
        cum_weights=list(itertools.accumulate(p.weight for p in placements)),
        events_per_view=events / weight,
    )


def _campaign_placements(
    catalog: Catalog,
    campaign: Campaign,
    share: float,
    video_ms: dict[str, int],
    rnd: random.Random,
) -> list[_Placement]:
    pool = _campaign_creatives(catalog, campaign)
    insertions = [
        i for i in catalog.insertions.values() if i.campaign_id == campaign.id
    ]
    if not pool or not insertions:
        return []
    parts = [rnd.uniform(0.3, 1.0) for _ in insertions]
    placements = []
    for insertion, part in zip(insertions, parts, strict=True):
        creatives = _insertion_creatives(pool, insertion.pricing_model, rnd)
        visibility, engagement = rnd.uniform(*_VISIBILITY), rnd.uniform(*_ENGAGEMENT)
        weight = share * part / sum(parts) / len(creatives)
        for creative in creatives:
            ids_text = (
                f'","campaign_id":"{campaign.id}","insertion_id":"{insertion.id}"'
                f',"creative_id":"{creative.id}"'
            )
            placements.append(
                _Placement(
                    ids_text,
                    visibility,
                    engagement,
                    video_ms.get(creative.id, 0),
                    weight,
                )
            )
    return placements


def _campaign_creatives(catalog: Catalog, campaign: Campaign) -> list[Creative]:
    # The catalog does not say which creatives a campaign runs; an advertiser's
    # creatives carrying its name is the usual convention.
    account = [
        c for c in catalog.creatives.values() if c.account_id == campaign.account_id
    ]
    advertiser = catalog.advertisers[campaign.advertiser_id].name.casefold()
    own = [c for c in account if c.name.casefold().startswith(advertiser)]
    return own or account


def _insertion_creatives(
    pool: list[Creative], pricing_model: str, rnd: random.Random
) -> list[Creative]:
    video = [c for c in pool if c.format == "video"]
    display = [c for c in pool if c.format == "display"]
    if pricing_model in _VIDEO_MODELS:
        return video or display
    if display and video and rnd.random() < _OUTSTREAM_SHARE:
        return [*display, video[0]]
    return display or video


def _content_texts(
    catalog: Catalog, rnd: random.Random
) -> tuple[list[str], list[float]]:
    """The endings of a line, one per content plus one without, and their
    cumulative weights: a few articles draw most of the readers."""
    ids = list(catalog.contents)
    rnd.shuffle(ids)
    weights = [1 / (rank + 1) ** _CONTENT_SKEW for rank in range(len(ids))]
    scale = _CONTENT_SHARE / sum(weights) if ids else 0.0
    texts = [f',"content_id":"{content_id}"}}\n' for content_id in ids] + ["}\n"]
    weights = [w * scale for w in weights] + [1 - _CONTENT_SHARE if ids else 1.0]
    return texts, list(itertools.accumulate(weights))


# --- the funnel ------------------------------------------------------------


def _head(event_type: str) -> str:
    return f'","type":"{event_type}","ts":'


_IMPRESSION = _head("impression")
_VISIBLE = _head("visible_impression")
_ENGAGE = _head("engagement")
_VOTE_HEAD = _head("vote")
_CLICK_HEAD = _head("click")
_FORM_HEAD = _head("form_submission")
_OPTIN_HEAD = _head("optin_submission")
_VIDEO_IMPRESSION = _head("video_impression")
_VIDEO_VISIBLE_HEAD = _head("video_visible_impression")
_VIDEO_START_HEAD = _head("video_start")
_QUARTILES = tuple(
    zip(
        map(_head, ("video_first_quartile", "video_midpoint",
                    "video_third_quartile", "video_complete")),
        _QUARTILE_KEEP,
        strict=True,
    )
)  # fmt: skip

_Step = tuple[str, int]  # an event's head text and its delay after the impression


def _view_steps(random: Callable[[], float], place: _Placement) -> list[_Step]:
    steps = [(_IMPRESSION, 0)]
    video = place.video_ms > 0 and random() < _VIDEO_LOADED
    if video:
        steps.append((_VIDEO_IMPRESSION, 50 + int(random() * 400)))
    if random() >= place.visibility:
        return steps
    seen = 300 + int(random() * 2500)
    steps.append((_VISIBLE, seen))
    if video and random() < _VIDEO_VISIBLE:
        _video_steps(random, place.video_ms, seen, steps)
    if random() < place.engagement:
        _interaction_steps(random, seen, steps)
    return steps


def _video_steps(
    random: Callable[[], float], length_ms: int, seen: int, steps: list[_Step]
) -> None:
    steps.append((_VIDEO_VISIBLE_HEAD, seen + int(random() * 200)))
    if random() >= _VIDEO_START:
        return
    start = seen + 500 + int(random() * 2000)
    steps.append((_VIDEO_START_HEAD, start))
    for quarter, (head, keep) in enumerate(_QUARTILES, 1):
        if random() >= keep:
            return
        steps.append((head, start + length_ms * quarter // 4 + int(random() * 250)))


def _interaction_steps(
    random: Callable[[], float], seen: int, steps: list[_Step]
) -> None:
    engaged = seen + 2000 + int(random() * 38_000)
    steps.append((_ENGAGE, engaged))
    if random() < _VOTE:
        steps.append((_VOTE_HEAD, engaged + 1000 + int(random() * 9000)))
    if random() < _CLICK:
        clicked = engaged
        for _ in range(_MAX_CLICKS):
            clicked += 500 + int(random() * 15_000)
            steps.append((_CLICK_HEAD, clicked))
            if random() >= _ANOTHER_CLICK:
                break
    if random() < _FORM:
        steps.append((_FORM_HEAD, engaged + 20_000 + int(random() * 70_000)))
    if random() < _OPTIN:
        steps.append((_OPTIN_HEAD, engaged + 5000 + int(random() * 25_000)))


def _expected_events(place: _Placement) -> float:
    """The mean number of events of a view of this placement, as _view_steps
    draws them: it sets how many views give the number of events asked for."""
    clicks = sum(_ANOTHER_CLICK**k for k in range(_MAX_CLICKS))
    engaged = 1 + _VOTE + _CLICK * clicks + _FORM + _OPTIN
    visible = 1 + place.engagement * engaged
    viewed = 1.0
    if place.video_ms:
        quartiles = sum(itertools.accumulate(_QUARTILE_KEEP, lambda a, b: a * b))
        visible += _VIDEO_LOADED * _VIDEO_VISIBLE * (1 + _VIDEO_START * (1 + quartiles))
        viewed += _VIDEO_LOADED
    return viewed + place.visibility * visible


# --- time ------------------------------------------------------------------

_HOUR_MINUTES = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))


@functools.cache
def _second_texts() -> tuple[str, ...]:
    return tuple(f"{s:02d}.{ms:03d}" for s in range(60) for ms in range(1000))


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


@functools.lru_cache(maxsize=4096)
def _date_text(day_number: int) -> str:
    return f'"{dt.date.fromordinal(_EPOCH_ORDINAL + day_number).isoformat()}T'


def _minute_texts(first: int, count: int) -> list[str]:
    """'"YYYY-MM-DDTHH:MM:' for `count` minutes from one counted from the epoch."""
    texts: list[str] = []
    minute = first
    while len(texts) < count:
        day, start = divmod(minute, 1440)
        stop = min(1440, start + count - len(texts))
        date = _date_text(day)
        texts.extend([date + hour_minute for hour_minute in _HOUR_MINUTES[start:stop]])
        minute += stop - start
    return texts


def _offset_text(minutes: int) -> str:
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f'{sign}{hours:02d}:{rest:02d}"'


class _DayClock:
    """The `ts` texts of one local day of one account, made once per minute so
    that each event only adds its seconds."""

    def __init__(self, zone: ZoneInfo, day: dt.date, last_day: bool) -> None:
        self.start_ms = _local_midnight_ms(zone, day)
        end_ms = _local_midnight_ms(zone, day + dt.timedelta(days=1))
        minutes = (end_ms - self.start_ms) // 60_000
        covered = minutes if last_day else minutes + _SLACK_MINUTES
        self.limit_ms = self.start_ms + covered * 60_000 - 1
        first = self.start_ms // 60_000
        runs = _offset_runs(zone, first, covered)
        self.utc = _minute_texts(first, covered)
        self.utc_ends = ['Z"'] * covered
        self.local: list[str] = []
        self.local_ends: list[str] = []
        for start, count, offset in runs:
            self.local += _minute_texts(first + start + offset, count)
            self.local_ends += [_offset_text(offset)] * count
        self.hours = _hour_slots(self.start_ms, end_ms, runs)


def _local_midnight_ms(zone: ZoneInfo, day: dt.date) -> int:
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=zone)
    return int(midnight.timestamp()) * 1000


def _offset_runs(zone: ZoneInfo, first: int, count: int) -> list[tuple[int, int, int]]:
    """(start, count, UTC offset) of the runs of minutes with the same offset,
    for `count` minutes from `first`: a day has at most one change of offset."""

    def offset(minute: int) -> int:
        moment = dt.datetime.fromtimestamp(minute * 60, tz=zone)
        delta = moment.utcoffset()
        assert delta is not None
        return int(delta.total_seconds()) // 60

    before, after = offset(first), offset(first + count - 1)
    if before == after:
        return [(0, count, before)]
    change = bisect.bisect_left(
        range(count), True, key=lambda i: offset(first + i) != before
    )
    return [(0, change, before), (change, count - change, after)]


def _hour_slots(
    start_ms: int, end_ms: int, runs: list[tuple[int, int, int]]
) -> list[tuple[int, int, int]]:
    """(start, length, local hour) of each hour of the day: 23 or 25 of them
    when daylight saving time starts or ends."""
    slots = []
    for slot_start in range(start_ms, end_ms, 3_600_000):
        elapsed = (slot_start - start_ms) // 60_000
        offset = next(
            offset for start, count, offset in runs if elapsed < start + count
        )
        hour = (slot_start // 60_000 + offset) % 1440 // 60
        slots.append((slot_start, min(3_600_000, end_ms - slot_start), hour))
    return slots


# --- ids -------------------------------------------------------------------


class _Ids:
    """Unique, random-looking hex ids: a counter through a bijection of 64-bit
    numbers, salted by the seed."""

    def __init__(self, seed: int) -> None:
        digest = hashlib.sha256(f"adstats-traffic/{seed}".encode()).digest()
        self.event_salt = int.from_bytes(digest[:8])
        self.view_salt = int.from_bytes(digest[8:16])
        self.events = 0
        self.views = 0

    def event(self) -> str:
        self.events += 1
        return self.event_text(self.events)

    def event_text(self, number: int) -> str:
        return ((number * _ID_MULTIPLIER & _MASK64) ^ self.event_salt).to_bytes(8).hex()

    def view(self) -> str:
        self.views += 1
        return (
            ((self.views * _ID_MULTIPLIER & _MASK64) ^ self.view_salt).to_bytes(8).hex()
        )


# --- traffic ---------------------------------------------------------------


class _Traffic:
    def __init__(
        self,
        rnd: random.Random,
        writer: "_Writer",
        contents: tuple[list[str], list[float]],
    ) -> None:
        self.rnd = rnd
        self.writer = writer
        self.contents, self.content_weights = contents

    def run(self, accounts: list[_AccountPlan], first: dt.date, days: int) -> None:
        wanted = self.writer.valid_target
        day_weights = [self._day_weights(first, days) for _ in accounts]
        for index in range(days):
            day = first + dt.timedelta(days=index)
            for account, weights in zip(accounts, day_weights, strict=True):
                lines = wanted * account.share * weights[index]
                self._day(account, day, index == days - 1, lines)

    def _day_weights(self, first: dt.date, days: int) -> list[float]:
        weights = []
        for index in range(days):
            weekend = (first + dt.timedelta(days=index)).weekday() >= 5
            volume = _WEEKEND_VOLUME if weekend else 1.0
            weights.append(volume * self.rnd.uniform(1 - _DAY_NOISE, 1 + _DAY_NOISE))
        total = sum(weights)
        return [w / total for w in weights]

    def _day(
        self, account: _AccountPlan, day: dt.date, last: bool, lines: float
    ) -> None:
        clock = _DayClock(account.zone, day, last)
        rhythm = _WEEKEND_HOURS if day.weekday() >= 5 else _WEEKDAY_HOURS
        weights = [rhythm[hour] * length for _, length, hour in clock.hours]
        views_per_weight = lines / account.events_per_view / sum(weights)
        for (start, length, _), weight in zip(clock.hours, weights, strict=True):
            noise = self.rnd.uniform(1 - _HOUR_NOISE, 1 + _HOUR_NOISE)
            expected = weight * views_per_weight * noise
            views = int(expected) + (self.rnd.random() < expected % 1)
            self.writer.add(self._views(clock, account, start, length, views))

    def _views(
        self,
        clock: _DayClock,
        account: _AccountPlan,
        start: int,
        length: int,
        count: int,
    ) -> list[str]:
        rnd, ids, random = self.rnd, self.writer.ids, self.rnd.random
        times = sorted([start + int(random() * length) for _ in range(count)])
        places = rnd.choices(
            account.placements, cum_weights=account.cum_weights, k=count
        )
        ends = rnd.choices(self.contents, cum_weights=self.content_weights, k=count)
        base, limit, seconds = clock.start_ms, clock.limit_ms, _second_texts()
        # _Ids.event_text inlined: a call per event would cost a tenth of the run.
        number, salt = ids.events, ids.event_salt
        lines: list[str] = []
        for t0, place, end in zip(times, places, ends, strict=True):
            tail = ',"impression_id":"' + ids.view() + place.ids_text + end
            style = random()
            epoch = style < _EPOCH_MS_SHARE
            minutes, minute_ends = (
                (clock.local, clock.local_ends)
                if style > 1 - _LOCAL_OFFSET_SHARE
                else (clock.utc, clock.utc_ends)
            )
            for head, delay in _view_steps(random, place):
                t = t0 + delay
                if t > limit:
                    t = limit
                if epoch:
                    ts = str(t)
                else:
                    minute, rest = divmod(t - base, 60_000)
                    ts = minutes[minute] + seconds[rest] + minute_ends[minute]
                number += 1
                event_id = ((number * _ID_MULTIPLIER & _MASK64) ^ salt).to_bytes(8)
                lines.append(f'{{"id":"{event_id.hex()}{head}{ts}{tail}')
        ids.events = number
        return lines


# --- writing ---------------------------------------------------------------


class _Spacing:
    """Where to add `count` extra lines among `span` valid ones: one at a random
    place in each equal stretch, so even a short file gets its share."""

    def __init__(self, count: int, span: int, rnd: random.Random) -> None:
        self.step = span / count if count else 0.0
        self.count = count
        self.rnd = rnd
        self.done = 0
        self.next = self._draw()

    def _draw(self) -> int | None:
        if self.done >= self.count:
            return None
        return int((self.done + self.rnd.random()) * self.step)

    def take(self, stop: int) -> list[int]:
        """The positions before `stop` not taken yet."""
        taken = []
        while self.next is not None and self.next < stop:
            taken.append(self.next)
            self.done += 1
            self.next = self._draw()
        return taken


class _Writer:
    """Writes lines in large chunks, adds the retries and invalid lines at their
    places, and counts what it wrote."""

    def __init__(
        self, out: BinaryIO, rnd: random.Random, ids: _Ids, campaigns: set[str]
    ) -> None:
        self.out, self.rnd, self.ids, self.campaigns = out, rnd, ids, campaigns
        self.pending: list[str] = []
        self.valid = self.duplicates = self.invalid = 0

    def plan_extras(
        self, events: int, duplicate_rate: float, invalid_rate: float
    ) -> None:
        duplicates = round(events * duplicate_rate)
        invalid = round(events * invalid_rate)
        if invalid_rate > 0 and events >= _INVALID_KINDS_MIN_EVENTS:
            invalid = max(invalid, len(_INVALID_KINDS))
        self.valid_target = events - duplicates - invalid
        # Spread over a little less than the target, as the count of valid
        # lines only comes close to it.
        span = int(self.valid_target * 0.95)
        self.duplicate_at = _Spacing(duplicates, span, self.rnd)
        self.invalid_at = _Spacing(invalid, span, self.rnd)

    def add(self, lines: list[str]) -> None:
        start, stop = self.valid, self.valid + len(lines)
        extras = sorted(
            [(at, True) for at in self.duplicate_at.take(stop)]
            + [(at, False) for at in self.invalid_at.take(stop)]
        )
        cursor = 0
        for at, duplicate in extras:
            after = at - start
            self.pending.extend(lines[cursor : after + 1])
            cursor = after + 1
            self.pending.append(
                self._retry(lines, after) if duplicate else self._bad(lines[after])
            )
        self.pending.extend(lines[cursor:])
        self.valid = stop
        if len(self.pending) >= _FLUSH_LINES:
            self._flush()

    def _retry(self, lines: list[str], after: int) -> str:
        self.duplicates += 1
        return lines[after - self.rnd.randrange(min(after + 1, 100))]

    def _bad(self, line: str) -> str:
        kind = _INVALID_KINDS[self.invalid % len(_INVALID_KINDS)]
        self.invalid += 1
        event = orjson.loads(line)
        event["id"] = self.ids.event()
        return kind(event, self.campaigns)

    def _flush(self) -> None:
        # Chunks of a few hundred kilobytes: much larger ones get fresh memory
        # from the system each time, and its page faults cost more than writing.
        for start in range(0, len(self.pending), _WRITE_LINES):
            self.out.write("".join(self.pending[start : start + _WRITE_LINES]).encode())
        self.pending.clear()

    def close(self) -> GenerateSummary:
        self._flush()
        lines = self.valid + self.duplicates + self.invalid
        return GenerateSummary(lines, self.valid, self.duplicates, self.invalid)


# --- invalid lines ---------------------------------------------------------


def _dumps(event: dict[str, Any]) -> str:
    return orjson.dumps(event).decode() + "\n"


def _bad_json(event: dict[str, Any], campaigns: set[str]) -> str:
    text = _dumps(event)
    return text[: len(text) // 2] + "\n"


def _unknown_type(event: dict[str, Any], campaigns: set[str]) -> str:
    return _dumps(event | {"type": "hover"})


def _no_offset(event: dict[str, Any], campaigns: set[str]) -> str:
    ts = event["ts"]
    moment = (
        dt.datetime.fromtimestamp(ts / 1000, tz=dt.UTC)
        if isinstance(ts, int)
        else dt.datetime.fromisoformat(ts)
    )
    naive = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return _dumps(event | {"ts": naive.isoformat(timespec="milliseconds")})


def _unknown_campaign(event: dict[str, Any], campaigns: set[str]) -> str:
    unknown = event["campaign_id"]
    while unknown in campaigns:
        unknown = hashlib.sha256(unknown.encode()).hexdigest()[:24]
    return _dumps(event | {"campaign_id": unknown})


_INVALID_KINDS: tuple[Callable[[dict[str, Any], set[str]], str], ...] = (
    _bad_json,
    _unknown_type,
    _no_offset,
    _unknown_campaign,
)
