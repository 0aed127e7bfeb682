"""The one ingestion pipeline behind both doors: check, then apply.

A chunk is checked against a catalog snapshot outside the write lock, then
applied in one transaction; if the catalog changed in between, it is checked
again, so an event is always priced and attributed by the catalog it was
applied under.
"""

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from adstats.errors import StaleCatalog, StorageError
from adstats.ingest.parse import EventParser, ParsedBatch
from adstats.ingest.reader import Chunk
from adstats.ingest.report import IngestReport
from adstats.storage.base import CatalogState, Store

log = logging.getLogger(__name__)


def now_ms() -> int:
    return int(time.time() * 1000)


class Ingestor:
    def __init__(self, store: Store, clock: Callable[[], int] = now_ms) -> None:
        self._store = store
        self._parser = EventParser()
        self._clock = clock

    def ingest_chunk(self, chunk: Chunk) -> IngestReport:
        return self._apply(chunk, *self._parse(chunk))

    def ingest_chunks(
        self,
        chunks: Iterable[Chunk],
        progress: Callable[[int], None] = lambda _size: None,
    ) -> IngestReport:
        total = IngestReport()
        started = time.monotonic()
        for chunk, state, parsed in self._parsed_ahead(chunks):
            total.add(self._apply(chunk, state, parsed))
            progress(chunk.size)
        log.info(
            "ingestion finished: accepted=%d duplicates=%d rejected=%d seconds=%.2f",
            total.accepted,
            total.duplicates,
            len(total.rejected),
            time.monotonic() - started,
        )
        return total

    def _parsed_ahead(
        self, chunks: Iterable[Chunk]
    ) -> Iterator[tuple[Chunk, CatalogState, ParsedBatch]]:
        """Chunks with their parse, the next one parsed on another thread while
        this one is applied: checking and applying each take about half of the
        work, and both run mostly inside DuckDB, free of the GIL."""
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="parse") as pool:
            ahead: tuple[Chunk, Future[tuple[CatalogState, ParsedBatch]]] | None
            ahead = None
            for chunk in chunks:
                parsing = pool.submit(self._parse, chunk)
                if ahead is not None:
                    yield ahead[0], *ahead[1].result()
                ahead = (chunk, parsing)
            if ahead is not None:
                yield ahead[0], *ahead[1].result()

    def _parse(self, chunk: Chunk) -> tuple[CatalogState, ParsedBatch]:
        state = self._store.catalog_state()
        return state, self._parser.parse(chunk, state, self._clock())

    def _apply(
        self, chunk: Chunk, state: CatalogState, parsed: ParsedBatch
    ) -> IngestReport:
        """Applies a parse, parsing again while the catalog it was made with
        is no longer the stored one."""
        for _attempt in range(3):
            if state.version == self._store.catalog_state().version:
                try:
                    report = self._store.apply_events(parsed.events, state)
                except StaleCatalog:
                    pass
                else:
                    report.rejected = parsed.rejections
                    return report
            state, parsed = self._parse(chunk)
        raise StorageError("the catalog kept changing during ingestion; try again")

    def close(self) -> None:
        self._parser.close()
