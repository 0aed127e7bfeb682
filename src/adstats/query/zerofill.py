"""Rows of zeros where an answer shows rows the store has no data for.

Some answers have a row for every listed key (and every day of the range, by
day) whatever happened. The store gives only the rows with data, in the
answer's order, so the grid of wanted rows is walked in windows: a window's
rows come from the store's rows that fall in it, zeros elsewhere, computed a
whole window at a time.
"""

import functools
import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

WINDOW_ROWS = 4096
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Grid:
    """Every key of `keys` (in answer order) for each of `days` days from
    `first_day`, days outer; each key once when first_day is None."""

    keys: pa.Array
    key_column: str
    first_day: date | None = None
    days: int = 1

    @property
    def size(self) -> int:
        return self.days * len(self.keys)

    def positions(self, batch: pa.RecordBatch) -> pa.Array:
        """Where the batch's rows sit in the grid: null for a key outside it,
        below 0 or past its size for a day outside it."""
        at = pc.cast(
            pc.index_in(batch.column(self.key_column), value_set=self.keys), pa.int64()
        )
        if self.first_day is None:
            return at
        days = pc.cast(batch.column("day"), pa.int32())
        day = pc.cast(pc.subtract(days, self._day_number()), pa.int64())
        return pc.add(pc.multiply(day, len(self.keys)), at)

    def dimensions(self, wanted: pa.Array) -> dict[str, pa.Array]:
        """The dimension columns of the grid's rows at the `wanted` positions."""
        width = len(self.keys)
        days = pc.divide(wanted, width)
        key_at = pc.subtract(wanted, pc.multiply(days, width))
        columns = {self.key_column: pc.take(self.keys, key_at)}
        if self.first_day is not None:
            day_numbers = pc.cast(pc.add(days, self._day_number()), pa.int32())
            columns["day"] = pc.cast(day_numbers, pa.date32())
        return columns

    def _day_number(self) -> int:
        assert self.first_day is not None
        return (self.first_day - _EPOCH).days


def zero_filled(
    batches: Iterable[pa.RecordBatch], grid: Grid, schema: pa.Schema
) -> Iterator[pa.RecordBatch]:
    """Every row of the grid, in order: the store's measures where it had the
    row, zeros elsewhere. `batches` have the columns of `schema` and hold rows
    of the grid only, each once, in grid order."""
    batches = iter(batches)
    if grid.size <= WINDOW_ROWS:
        # As many rows as the grid holds are the whole grid, so a small grid
        # the store filled (an active campaign, by day) needs no work at all.
        head = list(itertools.islice(batches, 2))
        if sum(batch.num_rows for batch in head) == grid.size:
            yield from head
            if any(batch.num_rows for batch in batches):
                raise RuntimeError("the store gave rows outside the answer")
            return
        batches = itertools.chain(head, batches)
    pending = _Pending(batches, grid, schema)
    zeros = _zeros(schema)
    for start in range(0, grid.size, WINDOW_ROWS):
        wanted = pa.array(range(start, min(start + WINDOW_ROWS, grid.size)), pa.int64())
        found, places = pending.take_before(start + len(wanted))
        # For each wanted row, the index of its row among those found.
        rows = pc.index_in(wanted, value_set=places)
        if len(rows) - rows.null_count != len(places):
            raise RuntimeError("the store gave rows outside the answer or its order")
        taken = pa.concat_batches([found, zeros]).take(pc.fill_null(rows, len(places)))
        dimensions = grid.dimensions(wanted)
        columns = [dimensions.get(name, taken.column(name)) for name in schema.names]
        yield pa.RecordBatch.from_arrays(columns, schema=schema)
    if pending.take_before(None)[0].num_rows:
        raise RuntimeError("the store gave rows outside the answer")


@functools.cache
def _zeros(schema: pa.Schema) -> pa.RecordBatch:
    """One row of zeros, set after the rows found: a wanted row without data
    takes it, so a window is one `take` whatever its number of columns."""
    zeros = [pa.array([0], field.type) for field in schema]
    return pa.RecordBatch.from_arrays(zeros, schema=schema)


class _Pending:
    """The store's rows not yet placed in a window, with their positions."""

    def __init__(
        self, batches: Iterator[pa.RecordBatch], grid: Grid, schema: pa.Schema
    ) -> None:
        self._batches = batches
        self._grid = grid
        self._schema = schema
        self._rows: pa.RecordBatch | None = None
        self._places = pa.array([], pa.int64())

    def take_before(self, stop: int | None) -> tuple[pa.RecordBatch, pa.Array]:
        """The pending rows placed before `stop` (every one for None)."""
        rows: list[pa.RecordBatch] = []
        places: list[pa.Array] = []
        while self._rows is not None or self._pull():
            assert self._rows is not None
            count = len(self._places)
            if stop is not None:
                count = pc.sum(pc.less(self._places, stop)).as_py() or 0
            rows.append(self._rows.slice(0, count))
            places.append(self._places.slice(0, count))
            if count < len(self._places):
                self._rows = self._rows.slice(count)
                self._places = self._places.slice(count)
                break
            self._rows = None
        if not rows:
            empty = pa.RecordBatch.from_pylist([], schema=self._schema)
            return empty, pa.array([], pa.int64())
        return pa.concat_batches(rows), pa.concat_arrays(places)

    def _pull(self) -> bool:
        for batch in self._batches:
            if batch.num_rows:
                places = self._grid.positions(batch)
                if places.null_count:
                    raise RuntimeError("the store gave rows outside the answer")
                self._rows, self._places = batch, places
                return True
        return False
