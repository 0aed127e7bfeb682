"""Answer encodings: JSON and RFC 4180 CSV, from the same Arrow batches.

Each batch of rows is encoded at once, a column at a time (api.spelling,
api.rowtext), into the bytes orjson and the csv module write for the same rows
as Python values. A small answer is sent whole; a large one is streamed batch
by batch, so the server never holds a whole large answer.
"""

import asyncio
import contextlib
import csv
import io
import itertools
from collections.abc import AsyncIterator, Generator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio
import orjson
import pyarrow as pa
from starlette.responses import Response, StreamingResponse

from adstats.api.rowtext import joined_rows
from adstats.api.spelling import Style, same_indices, spelled
from adstats.query.answers import Answer, python_rows

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
SMALL_ROWS = 256
_MEDIA_TYPES = {"json": "application/json", "csv": CSV_MEDIA_TYPE}

Chunk = bytes | memoryview


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json"
    )


def rows_response(answer: Answer, output_format: str, name: str) -> Response:
    style: Style = "csv" if output_format == "csv" else "json"
    encoding = _Encoding.of(answer.header, style)
    batches = (batch for batch in answer.batches if batch.num_rows)
    # One batch alone is a small answer, sent whole. Looking for a second one
    # encodes nothing, so a streamed answer starts as soon as it can.
    first = next(batches, None)
    second = None if first is None else next(batches, None)
    headers = {}
    if style == "csv":
        headers["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    if first is None or second is None:
        body = encoding.whole(first)
        return Response(body, media_type=_MEDIA_TYPES[style], headers=headers)
    texts = map(encoding.rows, itertools.chain([first, second], batches))
    stream = _read_ahead(encoding.framed(texts))
    return StreamingResponse(stream, media_type=_MEDIA_TYPES[style], headers=headers)


async def _read_ahead(chunks: Generator[Chunk]) -> AsyncIterator[Chunk]:
    """The chunks, each made in a worker thread while the one before is being
    sent: encoding overlaps the sending and the client's reading, where one
    chunk at a time would leave the processor idle half of the time."""
    loop = asyncio.get_running_loop()

    def start() -> asyncio.Task[Chunk | None]:
        return loop.create_task(anyio.to_thread.run_sync(next, chunks, None))

    making = start()
    try:
        while (chunk := await making) is not None:
            making = start()
            yield chunk
    finally:
        # A thread cannot be stopped: the chunk in the making is let finish,
        # then the source (its database cursor) is closed, even when the
        # client is gone and the response cancelled.
        with anyio.CancelScope(shield=True):
            with contextlib.suppress(Exception):
                await making
            await anyio.to_thread.run_sync(chunks.close)


@dataclass(frozen=True)
class _Encoding:
    """How the rows of one header are written: `befores` is the constant text
    before each field and `ending` the one after the last. JSON rows start
    with the comma that separates them, so the first row drops it."""

    opening: bytes
    closing: bytes
    drop_first: int
    befores: tuple[str, ...]
    ending: str
    style: Style

    @classmethod
    def of(cls, header: Sequence[str], style: Style) -> "_Encoding":
        if style == "json":
            keys = [orjson.dumps(name).decode() + ":" for name in header]
            befores = (",{" + keys[0], *("," + key for key in keys[1:]))
            return cls(b"[", b"]", 1, befores, "}", style)
        befores = ("", *[","] * (len(header) - 1))
        return cls(_csv_line(header), b"", 0, befores, "\r\n", style)

    def rows(self, batch: pa.RecordBatch) -> Chunk:
        columns, fields = batch.columns, []
        start = 0
        while start < len(columns):
            stop = start + 1
            while stop < len(columns) and same_indices(columns[start], columns[stop]):
                stop += 1
            befores = self.befores[start:stop]
            fields.append(spelled(columns[start:stop], self.style, befores))
            start = stop
        return memoryview(joined_rows(fields, self.ending, batch.num_rows))

    def whole(self, batch: pa.RecordBatch | None) -> bytes:
        """An answer of one batch at most. Encoding a batch costs about a
        hundred Arrow calls whatever its size, so a few rows are quicker
        written as Python values by orjson or the csv module, whose bytes the
        encoding matches."""
        if batch is not None and batch.num_rows > SMALL_ROWS:
            return b"".join(self.framed([self.rows(batch)]))
        rows = [] if batch is None else python_rows(batch)
        if self.style == "json":
            return orjson.dumps(rows)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        for row in rows:
            writer.writerow("" if value is None else value for value in row.values())
        return self.opening + buffer.getvalue().encode()

    def framed(self, texts: Iterable[Chunk]) -> Generator[Chunk]:
        yield self.opening
        drop = self.drop_first
        for text in texts:
            yield text[drop:]
            drop = 0
        yield self.closing


def _csv_line(fields: Sequence[str]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerow(fields)
    return buffer.getvalue().encode()
