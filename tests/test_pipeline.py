"""The ingestion pipeline checks a chunk ahead while the one before it is
applied; a chunk checked under a catalog that has changed since is checked
again, so its events are judged by the catalog they are applied under."""

from collections.abc import Iterator
from datetime import date
from pathlib import Path

from adstats.ingest.reader import Chunk, chunk_of_bytes
from support.world import (
    C1,
    World,
    counters,
    event,
    hex_id,
    insertion,
    ndjson,
    standard_catalog,
)

I4 = hex_id("1e", 4)  # an insertion of C1 that the catalog gains mid-ingestion


def test_a_chunk_checked_before_a_catalog_change_is_checked_again(
    tmp_path: Path,
) -> None:
    world = World(tmp_path / "db.duckdb", standard_catalog())
    first = ndjson([event("e1", "impression", "v1")])
    second = ndjson([event("e2", "impression", "v2", insertion_id=I4, campaign_id=C1)])

    def chunks() -> Iterator[Chunk]:
        yield chunk_of_bytes(first, 1)
        yield chunk_of_bytes(second, 2)
        # The second chunk was checked while the first was applied, when I4
        # was still unknown; the catalog learns it before the second is applied.
        world.load({"insertions": [insertion(I4, C1, "added late")]})

    report = world.ingestor.ingest_chunks(chunks())

    assert (report.accepted, report.duplicates, report.rejected) == (2, 0, [])
    assert counters(world.campaign(date(2023, 1, 10), C1))["impressions"] == 2
    world.close()
