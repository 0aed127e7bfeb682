"""An independent model of SPEC sections 2-5, in plain Python.

It shares no code with adstats: events are taken one by one in ingestion order
and the rules are written as the SPEC states them. It takes only valid events;
validation is tested separately.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

Row = dict[str, Any]

EVENT_TYPES = (
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
EVERY_EVENT = frozenset({"vote", "click", "form_submission", "optin_submission"})

# metric name of each type, in the campaign family and in the entity family
CAMPAIGN_NAMES = {
    "impression": "impressions",
    "visible_impression": "visible_impressions",
    "engagement": "engagements",
    "vote": "votes",
    "click": "clicks",
    "form_submission": "form_submissions",
    "optin_submission": "optin_submissions",
    "video_impression": "video_impressions",
    "video_visible_impression": "video_visible_impressions",
    "video_start": "video_start",
    "video_first_quartile": "video_first_quartile",
    "video_midpoint": "video_midpoint",
    "video_third_quartile": "video_third_quartile",
    "video_complete": "video_complete",
}
# the entity family has no form or optin submissions (SPEC section 6)
ENTITY_NAMES = {
    **CAMPAIGN_NAMES,
    "video_start": "video_starts",
    "video_first_quartile": "video_first_quartiles",
    "video_midpoint": "video_midpoints",
    "video_third_quartile": "video_third_quartiles",
    "video_complete": "video_completes",
}

# pricing model -> (billable type, divisor of the price)
PRICING = {
    "cpm": ("impression", 1000),
    "vcpm": ("visible_impression", 1000),
    "cpc": ("click", 1),
    "cpe": ("engagement", 1),
    "cpv": ("video_start", 1),
    "cpcv": ("video_complete", 1),
}
MINOR_UNITS = {"EUR": 2, "USD": 2, "GBP": 2, "JPY": 0, "KRW": 0, "KWD": 3, "BHD": 3}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_instant(ts: str | int) -> datetime:
    if isinstance(ts, int):
        return _EPOCH + timedelta(milliseconds=ts)
    parsed = datetime.fromisoformat(ts)
    assert parsed.tzinfo is not None, ts
    return parsed


def local_day(ts: str | int, timezone: str) -> date:
    return event_instant(ts).astimezone(ZoneInfo(timezone)).date()


def round_half_up(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def shown_spent(amount: Decimal, currency: str) -> int | float:
    places = MINOR_UNITS[currency]
    rounded = round_half_up(amount, places)
    return int(rounded) if places == 0 else float(rounded)


def rate(numerator: int, denominator: int) -> float:
    if denominator == 0:
        return 0.0
    return float(round_half_up(Decimal(numerator) / Decimal(denominator), 6))


@dataclass(frozen=True)
class Fact:
    """One counted event."""

    day: date
    campaign_id: str
    insertion_id: str
    content_id: str | None
    creative_id: str
    type: str
    billable: bool
    cost: Decimal


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class Model:
    def __init__(self, catalog: dict[str, Any]) -> None:
        self.items: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.load(catalog)
        self.seen_ids: set[str] = set()
        self.seen_once: set[tuple[str, str]] = set()
        self.spent_by_insertion: dict[str, Decimal] = defaultdict(Decimal)
        self.facts: list[Fact] = []

    # -- catalog ----------------------------------------------------------------

    def load(self, catalog: dict[str, Any]) -> None:
        for section, items in catalog.items():
            for item in items:
                self.items[section][item["id"]] = dict(item)

    def _timezone(self, account_id: str) -> str:
        return str(self.items["accounts"][account_id].get("timezone", "UTC"))

    def _currency(self, account_id: str) -> str:
        return str(self.items["accounts"][account_id]["currency"])

    def _name(self, section: str, item_id: str | None) -> str | None:
        return None if item_id is None else self.items[section][item_id]["name"]

    # -- events -----------------------------------------------------------------

    def ingest(self, events: Iterable[dict[str, Any]]) -> tuple[int, int]:
        """Accepted and duplicate counts of one ingestion of valid events."""
        accepted = duplicates = 0
        for ev in events:
            if ev["id"] in self.seen_ids:
                duplicates += 1
                continue
            self.seen_ids.add(ev["id"])
            accepted += 1
            if ev["type"] not in EVERY_EVENT:
                key = (ev["impression_id"], ev["type"])
                if key in self.seen_once:
                    continue
                self.seen_once.add(key)
            self._count(ev)
        return accepted, duplicates

    def _count(self, ev: dict[str, Any]) -> None:
        ins = self.items["insertions"][ev["insertion_id"]]
        camp = self.items["campaigns"][ins["campaign_id"]]
        billable_type, divisor = PRICING[ins["pricing_model"]]
        billable = False
        cost = Decimal(ins["price"]) / divisor
        if ev["type"] == billable_type:
            billable = self._fits(ins, cost) and self._fits_campaign(camp, cost)
        if billable:
            self.spent_by_insertion[ins["id"]] += cost
        self.facts.append(
            Fact(
                day=local_day(ev["ts"], self._timezone(camp["account_id"])),
                campaign_id=camp["id"],
                insertion_id=ins["id"],
                content_id=ev.get("content_id"),
                creative_id=ev["creative_id"],
                type=ev["type"],
                billable=billable,
                cost=cost if billable else Decimal(0),
            )
        )

    def _fits(self, ins: dict[str, Any], cost: Decimal) -> bool:
        if ins.get("budget") is None:
            return True
        return self.spent_by_insertion[ins["id"]] + cost <= Decimal(ins["budget"])

    def _fits_campaign(self, camp: dict[str, Any], cost: Decimal) -> bool:
        if camp.get("budget") is None:
            return True
        spent = sum(
            (
                self.spent_by_insertion[i["id"]]
                for i in self.items["insertions"].values()
                if i["campaign_id"] == camp["id"]
            ),
            Decimal(0),
        )
        return spent + cost <= Decimal(camp["budget"])

    # -- answers ----------------------------------------------------------------

    def _metrics(
        self, facts: list[Fact], currency: str, *, exact: bool, entity: bool = False
    ) -> Row:
        names = ENTITY_NAMES if entity else CAMPAIGN_NAMES
        counts = dict.fromkeys(EVENT_TYPES, 0)
        for fact in facts:
            counts[fact.type] += 1
        row: Row = {}
        for t in EVENT_TYPES:
            if entity and t in ("form_submission", "optin_submission"):
                continue
            row[names[t]] = counts[t]
            if not entity and t == "click":
                row["click_through_rate"] = rate(
                    counts["click"], counts["visible_impression"]
                )
            if not entity and t == "video_complete":
                row["video_complete_rate"] = rate(
                    counts["video_complete"], counts["video_start"]
                )
        spent = sum((f.cost for f in facts), Decimal(0))
        row["billables"] = sum(1 for f in facts if f.billable)
        row["spent"] = spent if exact else shown_spent(spent, currency)
        return row

    def campaign_rows(
        self,
        account_id: str,
        date_from: date,
        date_to: date | None = None,
        *,
        campaign_id: str | None = None,
        by_day: bool = False,
        by_insertion: bool = False,
        by_content: bool = False,
        by_creative: bool = False,
        exact: bool = False,
    ) -> list[Row]:
        """The rows of GET /api/campaigns[/{id}]; exact=True keeps spent as the
        exact Decimal instead of the shown number."""
        date_to = date_to or date_from
        currency = self._currency(account_id)
        in_range = [
            f
            for f in self.facts
            if date_from <= f.day <= date_to
            and self.items["campaigns"][f.campaign_id]["account_id"] == account_id
        ]
        if campaign_id is not None:
            listed = [campaign_id]
        else:
            listed = sorted({f.campaign_id for f in in_range})
        in_range = [f for f in in_range if f.campaign_id in listed]

        def key(f: Fact) -> tuple[Any, ...]:
            parts: list[Any] = [f.day] if by_day else []
            parts.append(f.campaign_id)
            if by_insertion:
                parts.append(f.insertion_id)
            if by_content:
                parts.append(f.content_id)
            if by_creative:
                parts.append(f.creative_id)
            return tuple(parts)

        groups: dict[tuple[Any, ...], list[Fact]] = defaultdict(list)
        for f in in_range:
            groups[key(f)].append(f)
        if not (by_insertion or by_content or by_creative):
            wanted: list[tuple[Any, ...]]
            if by_day:
                wanted = [(d, c) for d in _days(date_from, date_to) for c in listed]
            else:
                wanted = [(c,) for c in listed]
            for k in wanted:
                groups.setdefault(k, [])

        def order(k: tuple[Any, ...]) -> tuple[tuple[int, str], ...]:
            # rows without a content sort after every content id
            return tuple((1, "") if v is None else (0, str(v)) for v in k)

        rows = []
        for k in sorted(groups, key=order):
            parts: list[Any] = list(k)
            row: Row = {}
            if by_day:
                row["date"] = parts.pop(0).isoformat()
            camp_id = parts.pop(0)
            camp = self.items["campaigns"][camp_id]
            row["campaign_id"] = camp_id
            row["campaign_name"] = camp["name"]
            if by_insertion:
                ins_id = parts.pop(0)
                row["insertion_id"] = ins_id
                row["insertion_name"] = self._name("insertions", ins_id)
            if by_content:
                content_id = parts.pop(0)
                row["content_id"] = content_id
                row["content_name"] = self._name("contents", content_id)
            if by_creative:
                creative_id = parts.pop(0)
                row["creative_id"] = creative_id
                row["creative_name"] = self._name("creatives", creative_id)
            row["advertiser_id"] = camp["advertiser_id"]
            row["advertiser_name"] = self._name("advertisers", camp["advertiser_id"])
            row.update(self._metrics(groups[k], currency, exact=exact))
            rows.append(row)
        return rows

    def entity_rows(
        self,
        account_id: str,
        kind: str,
        date_from: date,
        date_to: date | None = None,
        *,
        entity_id: str | None = None,
        by_day: bool = False,
    ) -> list[Row]:
        """The rows of GET /api/stats/{kind}[/{id}]."""
        date_to = date_to or date_from
        currency = self._currency(account_id)
        singular = kind[:-1]
        field = f"{singular}_id"
        groups: dict[tuple[Any, ...], list[Fact]] = defaultdict(list)
        for f in self.facts:
            if not date_from <= f.day <= date_to:
                continue
            if self.items["campaigns"][f.campaign_id]["account_id"] != account_id:
                continue
            value = getattr(f, field)
            if value is None or (entity_id is not None and value != entity_id):
                continue
            groups[(f.day, value) if by_day else (value,)].append(f)
        # One entity, or every entity with events: each on every day.
        listed = [entity_id] if entity_id is not None else {k[-1] for k in groups}
        for listed_id in listed:
            wanted = (
                [(d, listed_id) for d in _days(date_from, date_to)]
                if by_day
                else [(listed_id,)]
            )
            for k in wanted:
                groups.setdefault(k, [])
        rows = []
        for k in sorted(groups):
            parts: list[Any] = list(k)
            row: Row = {}
            if by_day:
                row["date"] = parts.pop(0).isoformat()
            row[field] = parts[0]
            row[f"{singular}_name"] = self._name(kind, parts[0])
            row.update(self._metrics(groups[k], currency, exact=False, entity=True))
            rows.append(row)
        return rows
