"""Answers for both families of statistics endpoints (SPEC section 6).

An answer is a header and Arrow batches of rows: storage sums, named and
derived a column at a time (query.shape), with rows of zeros where the
contract wants rows the store has no data for (query.zerofill). The API
encodes the batches: the rows of a large answer never become Python objects.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from adstats.domain.catalog import Account, Campaign, Catalog
from adstats.domain.metrics import CAMPAIGN_METRICS, ENTITY_METRICS
from adstats.errors import NotFound
from adstats.query.params import StatsQuery
from adstats.query.shape import campaign_batch, entity_batch
from adstats.query.vocabulary import VocabularyCache
from adstats.query.zerofill import Grid, zero_filled
from adstats.storage.base import CatalogState, StatsRequest, Store, stats_schema

Row = dict[str, Any]
ENTITY_KINDS = ("campaigns", "insertions", "contents")


@dataclass(frozen=True)
class Answer:
    """The rows of an answer: their field names, and Arrow batches holding
    those columns in that order, produced as they are read. A column's type
    says how its values show: date32 dates; dictionary-encoded ids and names
    (null: no content); int64 counters and whole amounts; decimal128 exact
    decimals (rates, spent with a minor unit)."""

    header: tuple[str, ...]
    batches: Iterator[pa.RecordBatch]

    def rows(self) -> list[Row]:
        """The rows as dictionaries of Python values (str, int, float, None),
        for callers that want values rather than an encoding."""
        return [row for batch in self.batches for row in python_rows(batch)]


class StatsAnswers:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._vocabularies = VocabularyCache()

    # -- /api/campaigns ---------------------------------------------------------

    def campaigns(
        self, account: Account, campaign_id: str | None, query: StatsQuery
    ) -> list[Row]:
        return self.campaign_rows(account, campaign_id, query).rows()

    def campaign_rows(
        self, account: Account, campaign_id: str | None, query: StatsQuery
    ) -> Answer:
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
        header = tuple(campaign_header(query))
        batches = self._campaign_batches(state, account, request, header)
        return Answer(header, batches)

    def _campaign_batches(
        self,
        state: CatalogState,
        account: Account,
        request: StatsRequest,
        header: tuple[str, ...],
    ) -> Iterator[pa.RecordBatch]:
        if not request.campaign_keys:
            return
        vocabulary = self._vocabularies.of(state)
        measures = self._store.stats(request)
        if not (request.by_insertion or request.by_content or request.by_creative):
            # Without breakdowns, each campaign has its row (each day, by day).
            keys = pa.array(request.campaign_keys, pa.int32())
            grid = _grid(keys, "campaign", request)
            measures = zero_filled(measures, grid, stats_schema(request))
        for batch in measures:
            yield campaign_batch(
                batch, vocabulary, account.currency, request.dimensions, header
            )

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

    # -- /api/stats/{kind} ------------------------------------------------------

    def entities(
        self, account: Account, kind: str, entity_id: str | None, query: StatsQuery
    ) -> list[Row]:
        return self.entity_rows(account, kind, entity_id, query).rows()

    def entity_rows(
        self, account: Account, kind: str, entity_id: str | None, query: StatsQuery
    ) -> Answer:
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
        header = tuple(entity_header(kind, query))
        entity_key = None if entity_id is None else state.key(entity_id)
        batches = self._entity_batches(state, account, entity_key, request, header)
        return Answer(header, batches)

    def _entity_batches(
        self,
        state: CatalogState,
        account: Account,
        entity_key: int | None,
        request: StatsRequest,
        header: tuple[str, ...],
    ) -> Iterator[pa.RecordBatch]:
        dimension = request.dimensions[-1]
        found = [
            batch.filter(pc.is_valid(batch.column(dimension)))
            for batch in (self._store.stats(request) if request.campaign_keys else [])
        ]
        vocabulary = self._vocabularies.of(state)
        # Like /api/campaigns: each listed entity has every day of the range.
        if entity_key is not None:
            listed = pa.array([entity_key], pa.int32())
        else:
            seen = [batch.column(dimension) for batch in found]
            unique = (
                pc.unique(pa.concat_arrays(seen)) if seen else pa.array([], pa.int32())
            )
            listed = vocabulary.in_id_order(unique)
        grid = _grid(listed, dimension, request)
        for batch in zero_filled(found, grid, stats_schema(request)):
            yield entity_batch(batch, vocabulary, account.currency, dimension, header)

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


def _grid(keys: pa.Array, dimension: str, request: StatsRequest) -> Grid:
    if not request.by_day:
        return Grid(keys, dimension)
    days = (request.date_to - request.date_from).days + 1
    return Grid(keys, dimension, request.date_from, days)


def python_rows(batch: pa.RecordBatch) -> list[Row]:
    """A batch's rows as Answer.rows gives them."""
    columns = [_python_values(column) for column in batch.columns]
    names = batch.schema.names
    return [
        dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)
    ]


def _python_values(column: pa.Array) -> list[Any]:
    kind = column.type
    if pa.types.is_dictionary(kind):  # decoded by Arrow first: much quicker
        return list(pc.take(column.dictionary, column.indices).to_pylist())
    if pa.types.is_date32(kind):
        return list(pc.cast(column, pa.string()).to_pylist())
    values: list[Any] = column.to_pylist()
    if pa.types.is_decimal(kind):
        # As the JSON encoding shows them: a float, or an integer for scale 0.
        exact = int if kind.scale == 0 else float
        return [exact(value) for value in values]
    return values


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
