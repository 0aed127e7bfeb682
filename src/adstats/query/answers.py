"""Answer rows for both families of statistics endpoints (SPEC section 6)."""

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from adstats.domain.catalog import Account, Campaign, Catalog
from adstats.domain.metrics import (
    CAMPAIGN_METRICS,
    ENTITY_METRICS,
    campaign_metrics,
    entity_metrics,
)
from adstats.errors import NotFound
from adstats.query.params import StatsQuery
from adstats.storage.base import CatalogState, StatsRequest, Store

Row = dict[str, Any]
ENTITY_KINDS = ("campaigns", "insertions", "contents")


def days(first: date, last: date) -> Iterator[date]:
    for offset in range((last - first).days + 1):
        yield first + timedelta(days=offset)


@dataclass
class _Grouped:
    """Store rows split into their dimension ids and their measures."""

    dims: tuple[Any, ...]
    measures: Sequence[int]


class StatsAnswers:
    def __init__(self, store: Store) -> None:
        self._store = store

    # -- /api/campaigns ---------------------------------------------------------

    def campaigns(
        self, account: Account, campaign_id: str | None, query: StatsQuery
    ) -> list[Row]:
        return list(self.campaign_rows(account, campaign_id, query))

    def campaign_rows(
        self, account: Account, campaign_id: str | None, query: StatsQuery
    ) -> Iterator[Row]:
        """The rows, produced as they are read. Every check is done before
        this returns, so a failure never cuts an answer short."""
        state = self._store.catalog_state()
        campaigns = self._listed_campaigns(state, account, campaign_id, query)
        request = StatsRequest(
            campaign_keys=[state.key(c.id) for c in campaigns],
            date_from=query.date_from,
            date_to=query.date_to,
            by_day=query.by_day,
            by_insertion=query.by_insertion,
            by_content=query.by_content,
            by_creative=query.by_creative,
        )
        return self._campaign_rows(state.catalog, account, campaigns, request, query)

    def _campaign_rows(
        self,
        catalog: Catalog,
        account: Account,
        campaigns: list[Campaign],
        request: StatsRequest,
        query: StatsQuery,
    ) -> Iterator[Row]:
        if not campaigns:
            return
        width = (
            1 + query.by_day + query.by_insertion + query.by_content + query.by_creative
        )
        grouped: Iterator[_Grouped] = (
            _Grouped(tuple(r[:width]), r[width:]) for r in self._store.stats(request)
        )
        if not (query.by_insertion or query.by_content or query.by_creative):
            grouped = _zero_filled(grouped, [c.id for c in campaigns], query)
        header = campaign_header(query)
        for g in grouped:
            values = self._campaign_values(catalog, account, g, query)
            yield dict(zip(header, values, strict=True))

    def _listed_campaigns(
        self,
        state: CatalogState,
        account: Account,
        campaign_id: str | None,
        query: StatsQuery,
    ) -> list[Campaign]:
        catalog = state.catalog
        if campaign_id is not None:
            return [_owned_campaign(catalog, account, campaign_id)]
        owned = [c for c in catalog.campaigns.values() if c.account_id == account.id]
        active = self._store.active_campaigns(
            [state.key(c.id) for c in owned], query.date_from, query.date_to
        )
        return sorted(
            (c for c in owned if state.key(c.id) in active), key=lambda c: c.id
        )

    @staticmethod
    def _campaign_values(
        catalog: Catalog, account: Account, grouped: _Grouped, query: StatsQuery
    ) -> list[Any]:
        dims = iter(grouped.dims)
        values: list[Any] = [next(dims).isoformat()] if query.by_day else []
        campaign = catalog.campaigns[next(dims)]
        values += [campaign.id, campaign.name]
        if query.by_insertion:
            insertion_id = next(dims)
            values += [insertion_id, catalog.insertions[insertion_id].name]
        if query.by_content:
            content_id = next(dims)
            content = None if content_id is None else catalog.contents[content_id]
            values += [content_id, None if content is None else content.name]
        if query.by_creative:
            creative_id = next(dims)
            values += [creative_id, catalog.creatives[creative_id].name]
        advertiser = catalog.advertisers[campaign.advertiser_id]
        values += [advertiser.id, advertiser.name]
        return values + campaign_metrics(grouped.measures, account.currency)

    # -- /api/stats/{kind} ------------------------------------------------------

    def entities(
        self, account: Account, kind: str, entity_id: str | None, query: StatsQuery
    ) -> list[Row]:
        return list(self.entity_rows(account, kind, entity_id, query))

    def entity_rows(
        self, account: Account, kind: str, entity_id: str | None, query: StatsQuery
    ) -> Iterator[Row]:
        state = self._store.catalog_state()
        catalog = state.catalog
        owned = [c for c in catalog.campaigns.values() if c.account_id == account.id]
        keys = [state.key(c.id) for c in owned]
        if kind == "campaigns" and entity_id is not None:
            keys = [state.key(_owned_campaign(catalog, account, entity_id).id)]
        request = StatsRequest(
            campaign_keys=keys,
            date_from=query.date_from,
            date_to=query.date_to,
            by_day=query.by_day,
            by_campaign=kind == "campaigns",
            by_insertion=kind == "insertions",
            by_content=kind == "contents",
            insertion_key=self._insertion_key(state, account, kind, entity_id),
            content_key=self._content_key(state, kind, entity_id),
        )
        return self._entity_rows(catalog, account, kind, entity_id, request, query)

    def _entity_rows(
        self,
        catalog: Catalog,
        account: Account,
        kind: str,
        entity_id: str | None,
        request: StatsRequest,
        query: StatsQuery,
    ) -> Iterator[Row]:
        width = 1 + query.by_day
        grouped = [
            _Grouped(tuple(r[:width]), r[width:])
            for r in (self._store.stats(request) if request.campaign_keys else [])
            if r[width - 1] is not None
        ]
        # Like /api/campaigns: each listed entity has every day of the range.
        listed = [entity_id] if entity_id else sorted({g.dims[-1] for g in grouped})
        names = _names(catalog, kind)
        header = entity_header(kind, query)
        for g in _zero_filled(iter(grouped), listed, query):
            yield dict(
                zip(header, _entity_values(names, account, g, query), strict=True)
            )

    @staticmethod
    def _insertion_key(
        state: CatalogState, account: Account, kind: str, entity_id: str | None
    ) -> int | None:
        if kind != "insertions" or entity_id is None:
            return None
        catalog = state.catalog
        insertion = catalog.insertions.get(entity_id)
        if insertion is None:
            raise NotFound(f"no insertion {entity_id} in this account")
        _owned_campaign(catalog, account, insertion.campaign_id, what="insertion",
                        shown_id=entity_id)  # fmt: skip
        return state.key(entity_id)

    @staticmethod
    def _content_key(
        state: CatalogState, kind: str, entity_id: str | None
    ) -> int | None:
        if kind != "contents" or entity_id is None:
            return None
        if entity_id not in state.catalog.contents:
            raise NotFound(f"no content {entity_id}")
        return state.key(entity_id)


def _owned_campaign(
    catalog: Catalog,
    account: Account,
    campaign_id: str,
    what: str = "campaign",
    shown_id: str | None = None,
) -> Campaign:
    """The campaign, if the account owns it; another account's is as unknown."""
    campaign = catalog.campaigns.get(campaign_id)
    if campaign is None or campaign.account_id != account.id:
        raise NotFound(f"no {what} {shown_id or campaign_id} in this account")
    return campaign


def _zero_filled(
    grouped: Iterator[_Grouped], ids: Sequence[str], query: StatsQuery
) -> Iterator[_Grouped]:
    """Every (day,) id combination of the range in answer order, with zeros
    where the store had no row. The store's rows come in that same order, so
    this merges as it goes, holding one row at a time."""
    wanted: Iterator[tuple[Any, ...]]
    if query.by_day:
        wanted = ((day, i) for day in days(query.date_from, query.date_to) for i in ids)
    else:
        wanted = ((i,) for i in ids)
    pending = next(grouped, None)
    for key in wanted:
        if pending is not None and pending.dims == key:
            yield pending
            pending = next(grouped, None)
        else:
            yield _Grouped(key, _ZEROS)


_ZEROS = (0,) * 16


def _names(catalog: Catalog, kind: str) -> dict[str, str]:
    table: dict[str, Any] = getattr(catalog, kind)
    return {item_id: item.name for item_id, item in table.items()}


def entity_header(kind: str, query: StatsQuery) -> list[str]:
    singular = kind[:-1]
    header = ["date"] if query.by_day else []
    return [*header, f"{singular}_id", f"{singular}_name", *ENTITY_METRICS]


def campaign_header(query: StatsQuery) -> list[str]:
    """The fields of a /api/campaigns row, in order."""
    header = ["date"] if query.by_day else []
    header += ["campaign_id", "campaign_name"]
    for flag, name in (
        (query.by_insertion, "insertion"),
        (query.by_content, "content"),
        (query.by_creative, "creative"),
    ):
        if flag:
            header += [f"{name}_id", f"{name}_name"]
    return [*header, "advertiser_id", "advertiser_name", *CAMPAIGN_METRICS]


def _entity_values(
    names: dict[str, str], account: Account, grouped: _Grouped, query: StatsQuery
) -> list[Any]:
    dims = iter(grouped.dims)
    values: list[Any] = [next(dims).isoformat()] if query.by_day else []
    entity_id = next(dims)
    values += [entity_id, names[entity_id]]
    return values + entity_metrics(grouped.measures, account.currency)
