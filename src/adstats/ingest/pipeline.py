"""The one ingestion pipeline behind both doors: check, then apply.

A chunk is checked against a catalog snapshot outside the write lock, then
applied in one transaction; if the catalog changed in between, it is checked
again, so an event is always priced and attributed by the catalog it was
applied under.
"""

import logging
import time
from collections.abc import Callable, Iterable

from adstats.errors import StaleCatalog, StorageError
from adstats.ingest.parse import EventParser
from adstats.ingest.reader import Chunk
from adstats.ingest.report import IngestReport
from adstats.storage.base import Store

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class Ingestor:
    def __init__(self, store: Store, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._parser = EventParser()
        self._clock = clock

    def ingest_chunk(self, chunk: Chunk) -> IngestReport:
        for _attempt in range(3):
            state = self._store.catalog_state()
            parsed = self._parser.parse(chunk, state, self._clock())
            if state.version != self._store.catalog_state().version:
                continue
            try:
                report = self._store.apply_events(parsed.events, state)
            except StaleCatalog:
                continue
            report.rejected = parsed.rejections
            return report
        raise StorageError("the catalog kept changing during ingestion; try again")

    def ingest_chunks(
        self,
        chunks: Iterable[Chunk],
        progress: Callable[[int], None] = lambda _size: None,
    ) -> IngestReport:
        total = IngestReport()
        started = time.monotonic()
        for chunk in chunks:
            total.add(self.ingest_chunk(chunk))
            progress(chunk.size)
        log.info(
            "ingestion finished: accepted=%d duplicates=%d rejected=%d seconds=%.2f",
            total.accepted,
            total.duplicates,
            len(total.rejected),
            time.monotonic() - started,
        )
        return total

    def close(self) -> None:
        self._parser.close()
