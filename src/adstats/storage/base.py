"""The contract every storage backend keeps.

A backend stores the catalog, API keys, the memory of counted events and the
rollups, and answers aggregate questions. It never sees HTTP, and the API never
sees SQL: the numbers are computed in one place so no two endpoints disagree.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from adstats.domain.catalog import Catalog, Entity
from adstats.ingest.report import IngestReport

if TYPE_CHECKING:  # the engine's table type; imported only when one is used
    import pyarrow as pa


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


# The dimension columns a StatsRow may carry, in answer order.
DIMENSIONS = ("day", "campaign", "insertion", "content", "creative")


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
    def apply_events(self, events: "pa.Table", state: CatalogState) -> IngestReport:
        """Counts, bills and rolls up a checked batch in one transaction.

        `events` has the columns of ingest.parse.EVENT_SCHEMA, in ingestion
        order. Returns accepted and duplicate counts (no rejections)."""

    @abstractmethod
    def stats(self, request: StatsRequest) -> Iterator[tuple[Any, ...]]:
        """Rows of (day?, dimension ids..., 14 counters..., billables, spent
        nanos): the dimensions the request groups by, in DIMENSIONS order,
        sorted by day then ids, a missing content last. Only combinations with
        data appear. Rows are produced as they are read, so an answer of any
        size streams."""

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
