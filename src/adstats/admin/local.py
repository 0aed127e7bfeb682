"""The operator's verbs done in this process, on a Store it holds."""

from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from adstats.admin.base import CatalogSummary
from adstats.domain.catalog import catalog_document, is_entity_id, merge_catalog
from adstats.errors import BadRequest, NotFound
from adstats.ingest.pipeline import Ingestor
from adstats.ingest.reader import Chunk
from adstats.ingest.report import IngestReport
from adstats.keys.secrets import expires_at, new_key, now
from adstats.storage.base import ApiKeyRecord, Store

_LIST_NAMES = {
    "Account": "accounts",
    "Advertiser": "advertisers",
    "Campaign": "campaigns",
    "Insertion": "insertions",
    "Content": "contents",
    "Creative": "creatives",
}


MAX_EXPIRY_DAYS = 36_600


def key_fields(record: ApiKeyRecord) -> dict[str, Any]:
    """What may be shown of a key: everything but its secret's hash."""
    expiry = expires_at(record)
    return {
        "key_id": record.key_id,
        "account_id": record.account_id,
        "name": record.name,
        "description": record.description,
        "created_at": record.created_at.isoformat(),
        "expires_in_days": record.expires_in_days,
        "expires_at": None if expiry is None else expiry.isoformat(),
        "revoked_at": None
        if record.revoked_at is None
        else record.revoked_at.isoformat(),
        "last_used_at": (
            None if record.last_used_at is None else record.last_used_at.isoformat()
        ),
    }


class LocalAdmin:
    def __init__(self, store: Store, ingestor: Ingestor | None = None) -> None:
        self.store = store
        self._ingestor = ingestor or Ingestor(store)

    def load_catalog(self, document: object) -> CatalogSummary:
        _merged, changed = merge_catalog(self.store.catalog_state().catalog, document)
        if changed:
            self.store.save_catalog(changed)
        counts = Counter(_LIST_NAMES[type(item).__name__] for item in changed)
        return CatalogSummary({name: counts[name] for name in _LIST_NAMES.values()})

    def catalog_document(self) -> dict[str, Any]:
        return catalog_document(self.store.catalog_state().catalog)

    def ingest(
        self, chunks: Iterable[Chunk], progress: Callable[[int], None]
    ) -> IngestReport:
        return self._ingestor.ingest_chunks(chunks, progress)

    def ingest_chunk(self, chunk: Chunk) -> IngestReport:
        return self._ingestor.ingest_chunk(chunk)

    def create_key(
        self,
        account_id: str,
        name: str,
        description: str | None,
        expires_in_days: int | None,
    ) -> tuple[dict[str, Any], str]:
        if account_id not in self.store.catalog_state().catalog.accounts:
            raise NotFound(
                f"no account {account_id}; load it with `adstats catalog load`"
            )
        if not name.strip():
            raise BadRequest("the key needs a name")
        if expires_in_days is not None and not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise BadRequest(
                f"--expires-in-days must be between 1 and {MAX_EXPIRY_DAYS}"
            )
        record, secret = new_key(account_id, name, description, expires_in_days)
        self.store.save_api_key(record)
        return key_fields(record), secret

    def list_keys(self, account_id: str) -> list[dict[str, Any]]:
        self._known_account(account_id)
        return [key_fields(r) for r in self.store.api_keys(account_id)]

    def _known_account(self, account_id: str) -> None:
        if account_id not in self.store.catalog_state().catalog.accounts:
            raise NotFound(
                f"no account {account_id[:24]}; load it with `adstats catalog load`"
            )

    def revoke_key(self, key_id: str) -> dict[str, Any]:
        if not is_entity_id(key_id):
            # Never echoed: a secret passed by mistake must not be printed.
            raise BadRequest("KEY_ID is the key's 24-character id (see `keys list`)")
        if not self.store.revoke_api_key(key_id, now()):
            raise NotFound(f"no API key {key_id}")
        record = next(r for r in self.store.api_keys() if r.key_id == key_id)
        return key_fields(record)

    def close(self) -> None:
        self._ingestor.close()
        self.store.close()
