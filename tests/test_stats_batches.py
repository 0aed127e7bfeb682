"""Store.stats gives Arrow batches of the columns and order its contract
states (storage.base.stats_schema), whatever the breakdowns."""

import itertools
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pyarrow as pa
import pytest

from adstats.storage.base import StatsRequest, stats_schema
from adstats.storage.duckdb import store as store_module
from support.world import (
    C1,
    C2,
    I1,
    I2,
    I3,
    K1,
    K2,
    R1,
    R2,
    World,
    event,
    standard_catalog,
)

DAY = date(2023, 1, 10)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "db.duckdb", standard_catalog())
    w.ingest([
        event("a", "impression", "ia", insertion_id=I1, content_id=K2, creative_id=R1),
        event("b", "impression", "ib", insertion_id=I2, creative_id=R2),
        event("c", "video_start", "ic", insertion_id=I3, content_id=K1, creative_id=R2),
        event("d", "click", "ia", "2023-01-11T12:00:00Z", insertion_id=I1),
    ])  # fmt: skip
    yield w
    w.close()


@pytest.mark.parametrize("flags", list(itertools.product([False, True], repeat=4)))
def test_batches_have_the_contract_columns_in_answer_order(
    world: World, flags: tuple[bool, ...]
) -> None:
    by_day, by_insertion, by_content, by_creative = flags
    state = world.store.catalog_state()
    request = StatsRequest(
        campaign_keys=[state.key(C1), state.key(C2)],
        date_from=DAY,
        date_to=date(2023, 1, 11),
        by_day=by_day,
        by_insertion=by_insertion,
        by_content=by_content,
        by_creative=by_creative,
    )

    batches = list(world.store.stats(request))

    assert batches, "events are in range"
    assert all(batch.schema.equals(stats_schema(request)) for batch in batches)
    table = pa.Table.from_batches(batches)
    ids = {key: item_id for item_id, key in state.keys.items()}
    dims = [[None if k is None else ids[k] for k in table.column(name).to_pylist()]
            for name in request.dimensions if name != "day"]  # fmt: skip
    days = table.column("day").to_pylist() if by_day else [None] * table.num_rows
    order = [(day, *(("~" if i is None else i) for i in row))
             for day, *row in zip(days, *dims, strict=True)]  # fmt: skip
    assert order == sorted(order), "by day, then ids, no content last"
    assert len(set(order)) == len(order), "one row per combination"
    assert sum(table.column("impression").to_pylist()) == 2


@pytest.mark.parametrize("by_day", [False, True])
def test_few_rows_read_as_tuples_are_the_rows_read_as_arrow(
    world: World, by_day: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A question with few possible rows is read as Python tuples (quicker for
    a few hundred rows); the batch is the same as DuckDB's Arrow reader's."""
    state = world.store.catalog_state()
    request = StatsRequest(
        campaign_keys=[state.key(C2), state.key(C1)],
        date_from=DAY,
        date_to=date(2023, 1, 11),
        by_day=by_day,
    )

    as_tuples = pa.Table.from_batches(list(world.store.stats(request)))
    monkeypatch.setattr(store_module, "_FEW_ROWS", 0)
    as_arrow = pa.Table.from_batches(list(world.store.stats(request)))

    assert as_tuples.equals(as_arrow)
    assert as_tuples.num_rows == (3 if by_day else 2)
