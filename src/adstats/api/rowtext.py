"""Rows of text from spelled columns: each row's field texts, then the row's
ending, row after row, in one buffer.

Arrow has no kernel that interleaves columns, but `take` does: indices in row
order (row 0's fields, then row 1's...) over one array holding every column's
texts give a string array whose bytes are the rows end to end. The indices
are themselves interleaved by a `take`, over the columns' index arrays laid
one after the other; the order of that take depends only on the number of
columns and rows, so it is made once and kept.
"""

import threading
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

from adstats.api.spelling import Spelled


def joined_rows(columns: Sequence[Spelled], ending: str, rows: int) -> pa.Buffer:
    """The text of `rows` rows: each row's texts of `columns`, then `ending`."""
    texts = pa.concat_arrays([*(c.texts for c in columns), pa.array([ending])])
    placed: list[pa.Array] = []
    first = 0  # where the column's texts start among all the texts
    for column in columns:
        if len(column.indices) != rows:
            raise ValueError("every column must have a text for every row")
        # int32 throughout: half the bytes of int64 for the take to move.
        indices = column.indices
        if indices.type != pa.int32():
            indices = pc.cast(indices, pa.int32())
        placed.append(pc.add(indices, pa.scalar(first, pa.int32())))
        first += len(column.texts)
    placed.append(pa.array([first], pa.int32()))  # the ending's text
    order = pa.concat_arrays(placed).take(_ORDERS.order(len(columns), rows))
    text = texts.take(order)
    _validity, offsets, data = text.buffers()
    bounds = pa.Array.from_buffers(
        pa.int32(), len(text) + 1, [None, offsets], offset=text.offset
    )
    return data[bounds[0].as_py() : bounds[-1].as_py()]


class _Order:
    """The row order of `rows` rows of `columns` index arrays of `rows` each,
    followed by the one index of the ending: for row r, r + k * rows for each
    column k, then columns * rows. For fewer rows, column k's values start k
    * (missing rows) earlier, and the ending columns * (missing rows)."""

    def __init__(self, columns: int, rows: int) -> None:
        width = columns + 1
        at = pa.array(range(rows * width), pa.int32())
        row = pc.divide(at, width)
        self.column = pc.subtract(at, pc.multiply(row, width))  # per index: k
        self.rows = rows
        # The ending (k = columns) takes no row term: k * rows + row * (k < columns).
        in_column = pc.cast(pc.less(self.column, columns), pa.int32())
        self.taken = pc.add(pc.multiply(self.column, rows), pc.multiply(row, in_column))

    def of(self, rows: int) -> pa.Array:
        if rows == self.rows:
            return self.taken
        count = rows * (len(self.taken) // self.rows)
        moved = pc.multiply(self.column.slice(0, count), self.rows - rows)
        return pc.subtract(self.taken.slice(0, count), moved)


class _Orders:
    """The orders made so far, one per number of columns, for the most rows
    asked: an answer's batches mostly have the same number of rows."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[int, _Order] = {}

    def order(self, columns: int, rows: int) -> pa.Array:
        with self._lock:
            kept = self._kept.get(columns)
        if kept is None or kept.rows < rows:
            kept = _Order(columns, rows)
            with self._lock:
                self._kept[columns] = kept
        return kept.of(rows)


_ORDERS = _Orders()
