"""Answer encodings: JSON (orjson) and RFC 4180 CSV, from the same rows.

Rows arrive as an iterator. A small answer is encoded at once; a large one is
streamed in batches, so the server never holds a whole large answer.
"""

import csv
import io
import itertools
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from starlette.responses import Response, StreamingResponse

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
BATCH_ROWS = 1000

Row = dict[str, Any]


def json_response(payload: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(payload), status_code=status, media_type="application/json"
    )


def rows_response(
    rows: Iterator[Row], output_format: str, header: Sequence[str], name: str
) -> Response:
    batches = _batches(rows)
    first = next(batches, [])
    rest = next(batches, None)
    if output_format == "json":
        if rest is None:
            return json_response(first)
        stream = _json_stream(itertools.chain([first, rest], batches))
        return StreamingResponse(stream, media_type="application/json")
    headers = {"Content-Disposition": f'attachment; filename="{name}.csv"'}
    if rest is None:
        return Response(
            _csv_text([first], header, with_header=True),
            media_type=CSV_MEDIA_TYPE,
            headers=headers,
        )
    csv_stream = _csv_stream(itertools.chain([first, rest], batches), header)
    return StreamingResponse(csv_stream, media_type=CSV_MEDIA_TYPE, headers=headers)


def _batches(rows: Iterator[Row]) -> Iterator[list[Row]]:
    while batch := list(itertools.islice(rows, BATCH_ROWS)):
        yield batch


def _json_stream(batches: Iterable[list[Row]]) -> Iterator[bytes]:
    opening = b"["
    for batch in batches:
        yield opening + orjson.dumps(batch)[1:-1]
        opening = b","
    yield b"]"


def _csv_stream(batches: Iterable[list[Row]], header: Sequence[str]) -> Iterator[str]:
    with_header = True
    for batch in batches:
        yield _csv_text([batch], header, with_header=with_header)
        with_header = False


def _csv_text(
    batches: Iterable[list[Row]], header: Sequence[str], *, with_header: bool
) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if with_header:
        writer.writerow(header)
    for batch in batches:
        for row in batch:
            writer.writerow("" if row[name] is None else row[name] for name in header)
    return buffer.getvalue()
