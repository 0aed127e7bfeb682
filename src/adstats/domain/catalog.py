"""The catalog: accounts, advertisers, campaigns, insertions, contents and
creatives (SPEC section 1), parsed and checked before anything is written.

A catalog file is checked against the catalog already stored, merged with it,
and refused whole, naming the item, at the first broken rule.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from adstats.domain.billing import PRICING_MODELS, unit_cost_nanos
from adstats.domain.money import format_nanos, is_currency, parse_amount
from adstats.errors import CatalogError

ID_PATTERN = re.compile(r"[0-9a-f]{24}")
MAX_NAME_LENGTH = 500


def is_entity_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    currency: str
    timezone: str = "UTC"


@dataclass(frozen=True)
class Advertiser:
    id: str
    account_id: str
    name: str


@dataclass(frozen=True)
class Campaign:
    id: str
    account_id: str
    advertiser_id: str
    name: str
    budget_nanos: int | None = None


@dataclass(frozen=True)
class Insertion:
    id: str
    campaign_id: str
    name: str
    pricing_model: str
    price_nanos: int
    budget_nanos: int | None = None


@dataclass(frozen=True)
class Content:
    id: str
    name: str


@dataclass(frozen=True)
class Creative:
    id: str
    account_id: str
    name: str
    format: str


Entity = Account | Advertiser | Campaign | Insertion | Content | Creative

# Relations that cannot change once loaded: statistics already stored under the
# old parent or day boundaries would silently stop adding up.
FROZEN_FIELDS: dict[type, tuple[str, ...]] = {
    Account: ("currency", "timezone"),
    Advertiser: ("account_id",),
    Campaign: ("account_id",),
    Insertion: ("campaign_id",),
    Creative: ("account_id",),
}


@dataclass
class Catalog:
    accounts: dict[str, Account]
    advertisers: dict[str, Advertiser]
    campaigns: dict[str, Campaign]
    insertions: dict[str, Insertion]
    contents: dict[str, Content]
    creatives: dict[str, Creative]

    @classmethod
    def empty(cls) -> "Catalog":
        return cls({}, {}, {}, {}, {}, {})

    def lists(self) -> dict[str, dict[str, Any]]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


class _Item:
    """Reads the fields of one catalog item, naming it in every complaint."""

    def __init__(self, section: str, index: int, raw: object) -> None:
        if not isinstance(raw, dict):
            raise CatalogError(f"{section}[{index}] must be a JSON object")
        self.raw: dict[str, Any] = raw
        item_id = raw.get("id")
        shown_id = item_id if isinstance(item_id, str) else "?"
        self.label = f"{section}[{index}] (id {shown_id})"

    def fail(self, message: str) -> CatalogError:
        return CatalogError(f"{self.label}: {message}")

    def entity_id(self, name: str) -> str:
        value = self.raw.get(name)
        if not is_entity_id(value):
            raise self.fail(f"{name} must be 24 lowercase hexadecimal characters")
        assert isinstance(value, str)
        return value

    def text(self, name: str) -> str:
        value = self.raw.get(name)
        if not isinstance(value, str) or not value.strip():
            raise self.fail(f"{name} must be a non-empty string")
        if len(value) > MAX_NAME_LENGTH:
            raise self.fail(f"{name} is longer than {MAX_NAME_LENGTH} characters")
        return value

    def amount(self, name: str, *, required: bool) -> int | None:
        value = self.raw.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise self.fail(
                f'{name} must be a decimal written as a string, like "2.50"'
            )
        try:
            return parse_amount(value, max_decimals=6)
        except ValueError as exc:
            raise self.fail(f"{name} {exc}") from None

    def check_fields(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.raw) - allowed)
        if unknown:
            raise self.fail(f"unknown field {unknown[0]!r}; allowed: {sorted(allowed)}")


def _account(item: _Item) -> Account:
    item.check_fields({"id", "name", "currency", "timezone"})
    currency = item.raw.get("currency")
    if not isinstance(currency, str) or not is_currency(currency):
        raise item.fail(f"currency {currency!r} is not an ISO 4217 code such as EUR")
    timezone = item.raw.get("timezone", "UTC")
    if not _is_timezone(timezone):
        raise item.fail(
            f"timezone {timezone!r} is not an IANA name such as Europe/Paris"
        )
    return Account(item.entity_id("id"), item.text("name"), currency, timezone)


def _advertiser(item: _Item) -> Advertiser:
    item.check_fields({"id", "account_id", "name"})
    return Advertiser(
        item.entity_id("id"), item.entity_id("account_id"), item.text("name")
    )


def _campaign(item: _Item) -> Campaign:
    item.check_fields({"id", "account_id", "advertiser_id", "name", "budget"})
    return Campaign(
        item.entity_id("id"),
        item.entity_id("account_id"),
        item.entity_id("advertiser_id"),
        item.text("name"),
        item.amount("budget", required=False),
    )


def _insertion(item: _Item) -> Insertion:
    item.check_fields({"id", "campaign_id", "name", "pricing_model", "price", "budget"})
    model = item.raw.get("pricing_model")
    if not isinstance(model, str) or model not in PRICING_MODELS:
        raise item.fail(
            f"pricing_model {model!r} is not one of {sorted(PRICING_MODELS)}"
        )
    price = item.amount("price", required=True)
    assert price is not None
    try:
        unit_cost_nanos(model, price)
    except ValueError:
        raise item.fail(
            "price has more than 6 decimal places for a per-mille model"
        ) from None
    return Insertion(
        item.entity_id("id"),
        item.entity_id("campaign_id"),
        item.text("name"),
        model,
        price,
        item.amount("budget", required=False),
    )


def _content(item: _Item) -> Content:
    item.check_fields({"id", "name"})
    return Content(item.entity_id("id"), item.text("name"))


def _creative(item: _Item) -> Creative:
    item.check_fields({"id", "account_id", "name", "format"})
    creative_format = item.raw.get("format")
    if creative_format not in ("display", "video"):
        raise item.fail(f"format {creative_format!r} must be 'display' or 'video'")
    assert isinstance(creative_format, str)
    return Creative(
        item.entity_id("id"),
        item.entity_id("account_id"),
        item.text("name"),
        creative_format,
    )


_PARSERS: dict[str, Callable[[_Item], Any]] = {
    "accounts": _account,
    "advertisers": _advertiser,
    "campaigns": _campaign,
    "insertions": _insertion,
    "contents": _content,
    "creatives": _creative,
}


def _is_timezone(name: object) -> bool:
    # "localtime" is the host's own zone, not an IANA name.
    if not isinstance(name, str) or name not in _timezones() or name == "localtime":
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


_TIMEZONES: set[str] = set()


def _timezones() -> set[str]:
    if not _TIMEZONES:
        _TIMEZONES.update(available_timezones())
    return _TIMEZONES


def parse_catalog(document: object) -> dict[str, list[Any]]:
    """The items of a catalog document, each checked on its own."""
    if not isinstance(document, dict):
        raise CatalogError('a catalog is a JSON object with lists such as "accounts"')
    unknown = sorted(set(document) - set(_PARSERS))
    if unknown:
        raise CatalogError(f"unknown list {unknown[0]!r}; allowed: {sorted(_PARSERS)}")
    parsed: dict[str, list[Any]] = {}
    for section, parse in _PARSERS.items():
        raw_items = document.get(section, [])
        if not isinstance(raw_items, list):
            raise CatalogError(f"{section} must be a list")
        parsed[section] = [
            parse(_Item(section, index, raw)) for index, raw in enumerate(raw_items)
        ]
    return parsed


def merge_catalog(stored: Catalog, document: object) -> tuple[Catalog, list[Entity]]:
    """The stored catalog with the document upserted into it, and the items that
    changed. Raises CatalogError, naming the item, if any rule breaks."""
    parsed = parse_catalog(document)
    merged = Catalog(**{name: dict(items) for name, items in stored.lists().items()})
    changed: list[Entity] = []
    for section, items in parsed.items():
        target: dict[str, Any] = getattr(merged, section)
        seen: set[str] = set()
        for index, item in enumerate(items):
            label = f"{section}[{index}] (id {item.id})"
            if item.id in seen:
                raise CatalogError(f"{label}: the id appears twice in the file")
            seen.add(item.id)
            _check_frozen(label, target.get(item.id), item)
            if target.get(item.id) != item:
                target[item.id] = item
                changed.append(item)
    _check_references(merged, parsed)
    return merged, changed


def _check_frozen(label: str, old: Entity | None, new: Entity) -> None:
    if old is None:
        return
    for name in FROZEN_FIELDS.get(type(new), ()):
        before, after = getattr(old, name), getattr(new, name)
        if before != after:
            raise CatalogError(
                f"{label}: {name} cannot change once loaded ({before!r} -> {after!r}); "
                "create a new item with a new id instead"
            )


def _check_references(catalog: Catalog, parsed: Mapping[str, list[Any]]) -> None:
    def need(label: str, what: str, key: str, table: Mapping[str, Any]) -> Any:
        if key not in table:
            raise CatalogError(f"{label}: {what} {key} is unknown")
        return table[key]

    for index, adv in enumerate(parsed["advertisers"]):
        need(f"advertisers[{index}] (id {adv.id})", "account_id", adv.account_id,
             catalog.accounts)  # fmt: skip
    for index, camp in enumerate(parsed["campaigns"]):
        label = f"campaigns[{index}] (id {camp.id})"
        need(label, "account_id", camp.account_id, catalog.accounts)
        advertiser = need(
            label, "advertiser_id", camp.advertiser_id, catalog.advertisers
        )
        if advertiser.account_id != camp.account_id:
            raise CatalogError(f"{label}: advertiser {camp.advertiser_id} belongs to "
                               f"another account than {camp.account_id}")  # fmt: skip
    for index, ins in enumerate(parsed["insertions"]):
        need(f"insertions[{index}] (id {ins.id})", "campaign_id", ins.campaign_id,
             catalog.campaigns)  # fmt: skip
    for index, cre in enumerate(parsed["creatives"]):
        need(f"creatives[{index}] (id {cre.id})", "account_id", cre.account_id,
             catalog.accounts)  # fmt: skip


def catalog_document(catalog: Catalog) -> dict[str, list[dict[str, Any]]]:
    """The catalog as a catalog file would hold it (decimals as strings)."""

    def item(entity: Entity) -> dict[str, Any]:
        fields_of = {f.name: getattr(entity, f.name) for f in fields(entity)}
        out: dict[str, Any] = {}
        for name, value in fields_of.items():
            if name.endswith("_nanos"):
                if value is not None:
                    out[name.removesuffix("_nanos")] = format_nanos(value)
            else:
                out[name] = value
        return out

    return {
        name: [item(entity) for entity in table.values()]
        for name, table in catalog.lists().items()
    }
