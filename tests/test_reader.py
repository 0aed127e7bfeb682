"""Reading NDJSON streams in chunks (src/adstats/ingest/reader.py): lines keep
their numbers across chunk boundaries, gzip is detected, CRLF and a missing
final newline are fine. Checked through the real pipeline's report."""

import gzip
import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import orjson
import pytest

from adstats.ingest.reader import (
    MAX_LINE_BYTES,
    Chunk,
    chunk_of_bytes,
    chunks_of,
    open_maybe_gzip,
)
from adstats.ingest.report import IngestReport
from support.world import I2, World, event, gzipped, ndjson, standard_catalog

DAY = date(2023, 1, 10)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    w = World(tmp_path / "db.duckdb", standard_catalog())
    yield w
    w.close()


def click(n: int) -> dict[str, Any]:
    return event(f"e{n}", "click", f"imp{n}", insertion_id=I2)


def sample() -> tuple[bytes, int, list[int]]:
    """40 lines: valid clicks, blank lines and bad lines at known numbers.
    Returns the bytes, the number of valid events and the bad line numbers."""
    lines: list[Any] = []
    bad: list[int] = []
    valid = 0
    for n in range(40):
        if n % 7 == 3:
            lines.append('{"id": "broken"')
            bad.append(n + 1)
        elif n % 5 == 4:
            lines.append("")
        elif n % 11 == 6:
            lines.append(b'{"id": "\xff\xfe"}')
            bad.append(n + 1)
        else:
            lines.append(click(n))
            valid += 1
    return ndjson(lines), valid, bad


def chunked(data: bytes, chunk_bytes: int, *, compress: bool = False) -> list[Chunk]:
    stream = io.BytesIO(gzipped(data) if compress else data)
    return list(chunks_of(open_maybe_gzip(stream), chunk_bytes=chunk_bytes))


def check_numbering(data: bytes, chunks: list[Chunk]) -> None:
    """Each chunk starts at the line after the previous chunk's bytes, and the
    chunks cover the stream exactly."""
    offset = 0
    for chunk in chunks:
        assert chunk.first_line == 1 + data[:offset].count(b"\n")
        offset += chunk.size
    assert offset == len(data)


def ingest(world: World, chunks: list[Chunk]) -> IngestReport:
    sizes: list[int] = []
    got = world.admin.ingest(chunks, sizes.append)
    assert sum(sizes) == sum(c.size for c in chunks)
    return got


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("chunk_bytes", [1, 2, 3, 7, 64, 100, 333, 1000, 1 << 20])
def test_chunks_cover_the_stream_and_number_its_lines(
    chunk_bytes: int, compress: bool
) -> None:
    data, _valid, _bad = sample()
    chunks = chunked(data, chunk_bytes, compress=compress)
    check_numbering(data, chunks)
    if chunk_bytes > len(data):
        assert len(chunks) == 1
    if chunk_bytes <= 100:
        # small reads still cut at line ends only: at most one chunk per line
        assert 1 < len(chunks) <= data.count(b"\n")
    for chunk in chunks[:-1]:
        assert chunk.size > 0


@pytest.mark.parametrize("chunk_bytes", [1, 1 << 20])
def test_line_numbers_hold_across_chunk_boundaries(
    world: World, chunk_bytes: int
) -> None:
    data, valid, bad = sample()
    got = ingest(world, chunked(data, chunk_bytes))
    assert (got.accepted, got.duplicates) == (valid, 0)
    assert [r.line for r in got.rejected] == bad
    assert world.campaign(DAY)["clicks"] == valid


def test_gzip_is_detected_and_read(world: World) -> None:
    data, valid, bad = sample()
    got = ingest(world, chunked(data, 500, compress=True))
    assert (got.accepted, [r.line for r in got.rejected]) == (valid, bad)


def test_gzip_from_a_file_and_of_several_members(world: World, tmp_path: Path) -> None:
    first = ndjson([click(n) for n in range(3)])
    second = ndjson([click(n) for n in range(3, 5)] + ["oops"])
    path = tmp_path / "events.ndjson.gz"
    # `cat a.gz b.gz` makes one valid gzip stream of two members
    path.write_bytes(gzip.compress(first) + gzip.compress(second))
    with path.open("rb") as stream:
        chunks = list(chunks_of(open_maybe_gzip(stream), chunk_bytes=50))
    check_numbering(first + second, chunks)
    got = ingest(world, chunks)
    assert (got.accepted, [r.line for r in got.rejected]) == (5, [6])


def test_a_plain_stream_is_not_mistaken_for_gzip(world: World) -> None:
    data = ndjson([click(1), click(2)])
    stream = open_maybe_gzip(io.BytesIO(data))
    assert stream.read() == data


@pytest.mark.parametrize("chunk_bytes", [5, 1 << 20])
def test_crlf_lines(world: World, chunk_bytes: int) -> None:
    data = ndjson([click(1), "", click(2), "{bad", click(3)]).replace(b"\n", b"\r\n")
    data += b"\r\n   \r\n" + ndjson(["[]"]).replace(b"\n", b"\r\n")
    chunks = chunked(data, chunk_bytes)
    check_numbering(data, chunks)
    got = ingest(world, chunks)
    assert (got.accepted, [r.line for r in got.rejected]) == (3, [4, 8])


@pytest.mark.parametrize("chunk_bytes", [4, 1 << 20])
@pytest.mark.parametrize("ending", [b"", b"\r", b"   "])
def test_a_last_line_without_a_newline(
    world: World, chunk_bytes: int, ending: bytes
) -> None:
    data = ndjson([click(1), "", click(2)]) + orjson.dumps(click(3)) + ending
    chunks = chunked(data, chunk_bytes)
    check_numbering(data, chunks)
    assert ingest(world, chunks) == IngestReport(3, 0, [])
    bad = ndjson([click(4)]) + b"{no newline"
    got = ingest(world, chunked(bad, chunk_bytes))
    assert (got.accepted, [r.line for r in got.rejected]) == (1, [2])


def test_an_empty_stream_and_a_stream_of_blank_lines(world: World) -> None:
    assert ingest(world, chunked(b"", 10)) == IngestReport(0, 0, [])
    assert ingest(world, chunked(b"\n\n \n\r\n", 2)) == IngestReport(0, 0, [])
    assert world.campaigns(DAY) == []


@pytest.mark.parametrize("chunk_bytes", [1000, 4096, 1 << 20])
def test_an_overlong_line_is_one_rejected_line(world: World, chunk_bytes: int) -> None:
    long_event = {**click(2), "padding": "x" * (MAX_LINE_BYTES + 5000)}
    data = ndjson([click(1), long_event, click(3), "{bad"])
    chunks = chunked(data, chunk_bytes)
    assert sum(c.size for c in chunks) == len(data)  # the progress adds up
    got = ingest(world, chunks)
    # the overlong line is rejected once, and the lines after it keep their
    # numbers, however the reads cut it
    assert (got.accepted, [r.line for r in got.rejected]) == (2, [2, 4])
    assert world.campaign(DAY)["clicks"] == 2


def test_the_line_length_limit_is_in_bytes(world: World) -> None:
    base = orjson.dumps({**click(1), "padding": ""})
    room = MAX_LINE_BYTES - len(base)
    at_limit = base.replace(b'"padding":""', b'"padding":"' + b"x" * room + b'"')
    assert len(at_limit) == MAX_LINE_BYTES
    over = orjson.dumps({**click(2), "padding": "é" * (room // 2 + 1)})
    assert len(over) > MAX_LINE_BYTES > len(over.decode())
    got = world.ingest_bytes(at_limit + b"\n" + over + b"\n")
    assert (got.accepted, [r.line for r in got.rejected]) == (1, [2])


def test_multibyte_characters_survive_tiny_chunks(world: World) -> None:
    events = [
        event("événement-1", "click", "impressión", insertion_id=I2),
        event("イベント-2", "click", "印象", insertion_id=I2),
        event("😀-3", "click", "😀", insertion_id=I2),
    ]
    data = ndjson(events)
    for chunk_bytes in (1, 2, 3):
        chunks = chunked(data, chunk_bytes)
        check_numbering(data, chunks)
        got = ingest(world, chunks)
        assert (got.accepted + got.duplicates, got.rejected) == (3, [])
    assert world.campaign(DAY)["clicks"] == 3


def test_invalid_utf8_is_rejected_on_its_own_line(world: World) -> None:
    data = ndjson([click(1), b"\xc3\x28", click(2), b"\xe2\x82", b"", click(3)])
    for chunk_bytes, first_line in ((3, 1), (1 << 20, 1)):
        chunks = chunked(data, chunk_bytes)
        check_numbering(data, chunks)
        assert chunks[0].first_line == first_line
    got = ingest(world, chunked(data, 3))
    assert (got.accepted, [r.line for r in got.rejected]) == (3, [2, 4])
    assert all("UTF-8" in r.reason for r in got.rejected)


def test_a_chunk_can_start_at_any_line_number(world: World) -> None:
    data = ndjson([click(1), "{bad", b"\xff", click(2)])
    got = world.admin.ingest_chunk(chunk_of_bytes(data, first_line=101))
    assert (got.accepted, [r.line for r in got.rejected]) == (2, [102, 103])
