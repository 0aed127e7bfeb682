"""The contract both ways of doing the operator's work keep."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from adstats.ingest.reader import Chunk
from adstats.ingest.report import IngestReport


@dataclass(frozen=True)
class CatalogSummary:
    changed: dict[str, int]  # list name -> items added or changed

    def describe(self) -> str:
        parts = [f"{count} {name}" for name, count in self.changed.items() if count]
        return "catalog loaded: " + (", ".join(parts) + " added or changed" if parts
                                     else "nothing changed")  # fmt: skip


class Admin(Protocol):
    def load_catalog(self, document: object) -> CatalogSummary: ...

    def catalog_document(self) -> dict[str, Any]:
        """The stored catalog, in the shape of a catalog file."""
        ...

    def ingest(
        self, chunks: Iterable[Chunk], progress: Callable[[int], None]
    ) -> IngestReport: ...

    def create_key(
        self,
        account_id: str,
        name: str,
        description: str | None,
        expires_in_days: int | None,
    ) -> tuple[dict[str, Any], str]:
        """The key's public fields, and its secret."""
        ...

    def list_keys(self, account_id: str) -> list[dict[str, Any]]: ...

    def revoke_key(self, key_id: str) -> dict[str, Any]: ...

    def close(self) -> None: ...
