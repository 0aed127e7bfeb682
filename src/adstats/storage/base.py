"""The contract every storage backend keeps.

A backend stores the catalog, API keys, the memory of counted events and the
rollups, and answers aggregate questions. It never sees HTTP, and the API never
sees SQL: the numbers are computed in one place so no two endpoints disagree.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pyarrow as pa

from adstats.domain.catalog import Catalog, Entity
from adstats.domain.events import EVENT_TYPES
from adstats.ingest.report import IngestReport


@dataclass(frozen=True)
class CatalogState:
    """The catalog with the compact integer key storage gives each item."""

    catalog: Catalog
    keys: dict[str, int]  # entity id -> storage key, unique across kinds
    version: int

    def key(self, entity_id: str) -> int:
        return self.keys[entity_id]


@dataclass(frozen=True)
class StatsRequest:
    """One aggregate question: sums of the counters over a day range for some
    campaigns, grouped by the chosen dimensions."""

    campaign_keys: Sequence[int]
    date_from: date
    date_to: date
    by_day: bool = False
    by_campaign: bool = True
    by_insertion: bool = False
    by_content: bool = False
    by_creative: bool = False
    insertion_key: int | None = None
    content_key: int | None = None

    @property
    def dimensions(self) -> tuple[str, ...]:
        """The dimension columns of the answer, in DIMENSIONS order."""
        chosen = (self.by_day, self.by_campaign, self.by_insertion, self.by_content,
                  self.by_creative)  # fmt: skip
        return tuple(name for name, on in zip(DIMENSIONS, chosen, strict=True) if on)


# The dimension columns a batch of Store.stats may carry, in answer order.
DIMENSIONS = ("day", "campaign", "insertion", "content", "creative")
# The measure columns that follow them: a counter per event type, then the
# billable events and the exact spent in nanos.
MEASURES: tuple[str, ...] = (*EVENT_TYPES, "billables", "spent_nanos")


def stats_schema(request: StatsRequest) -> pa.Schema:
    """The columns of the batches Store.stats gives for the request: "day" a
    date32, the other dimensions int32 storage keys ("content" null for events
    without one), the measures int64 but spent_nanos, a decimal128(38, 0) as
    the sum of 64-bit amounts may pass 64 bits."""
    fields = [
        pa.field(name, pa.date32() if name == "day" else pa.int32())
        for name in request.dimensions
    ]
    fields += [pa.field(name, pa.int64()) for name in MEASURES[:-1]]
    return pa.schema([*fields, pa.field("spent_nanos", pa.decimal128(38, 0))])


@dataclass(frozen=True)
class ApiKeyRecord:
    key_id: str
    account_id: str
    name: str
    description: str | None
    created_at: datetime
    expires_in_days: int | None
    revoked_at: datetime | None
    last_used_at: datetime | None
    secret_hash: bytes


class Store(ABC):
    """What adstats needs of a database. Every method is safe to call from
    several threads; writes are serialized by the backend."""

    @abstractmethod
    def catalog_state(self) -> CatalogState: ...

    @abstractmethod
    def data_version(self) -> int:
        """A number that changes whenever a write that answers could show is
        committed (events, catalog); equal numbers mean equal answers."""

    @abstractmethod
    def save_catalog(self, changed: Sequence[Entity]) -> None:
        """Upserts the items in one transaction."""

    @abstractmethod
    def apply_events(self, events: pa.Table, state: CatalogState) -> IngestReport:
        """Counts, bills and rolls up a checked batch in one transaction.

        `events` has the columns of ingest.parse.EVENT_SCHEMA, in ingestion
        order. Returns accepted and duplicate counts (no rejections)."""

    @abstractmethod
    def stats(self, request: StatsRequest) -> Iterator[pa.RecordBatch]:
        """The sums, as Arrow batches of stats_schema(request): Python never
        handles a row. The storage keys are those of CatalogState. Rows are
        sorted by day, then by the ids of the keys, a missing content last;
        only combinations with data appear. Batches are produced as they are
        read, so an answer of any size streams."""

    @abstractmethod
    def active_campaigns(
        self, campaign_keys: Sequence[int], date_from: date, date_to: date
    ) -> set[int]:
        """The campaigns among campaign_keys that have counted events in range."""

    @abstractmethod
    def save_api_key(self, record: ApiKeyRecord) -> None: ...

    @abstractmethod
    def api_keys(self, account_id: str | None = None) -> list[ApiKeyRecord]: ...

    @abstractmethod
    def revoke_api_key(self, key_id: str, when: datetime) -> bool: ...

    @abstractmethod
    def touch_api_keys(self, last_used: dict[str, datetime]) -> None: ...

    @abstractmethod
    def set_label(self, name: str, value: str) -> None:
        """Records a fact about the database itself (such as "made by demo")."""

    @abstractmethod
    def label(self, name: str) -> str | None: ...

    @abstractmethod
    def compact(self) -> None:
        """Merges small appended pieces, to keep reads fast."""

    @abstractmethod
    def close(self) -> None: ...
