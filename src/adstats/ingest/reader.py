"""Cuts an NDJSON byte stream into chunks of whole lines of UTF-8.

Lines are numbered from 1 across the whole stream. A line that is not UTF-8 is
rejected here, so the parser only ever sees text; the rest of the checks,
line length included, are the parser's. Chunks stay bytes: the parser hands
them to its engine without a copy, and decoding a chunk to a Python string
would cost more than everything else the reader does.
"""

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, cast

from adstats.ingest.report import Rejection

MAX_LINE_BYTES = 64 * 1024
GZIP_MAGIC = b"\x1f\x8b"
_BOM = "\ufeff".encode()


@dataclass
class Chunk:
    """Consecutive lines of one stream, starting at line number first_line.

    data holds the lines, UTF-8, joined by newlines; a line rejected here (not
    UTF-8) stands in it as a blank line, so the numbering holds.
    """

    first_line: int
    data: bytes
    line_count: int
    rejections: list[Rejection] = field(default_factory=list)
    size: int = 0


def open_maybe_gzip(stream: BinaryIO) -> BinaryIO:
    """The stream itself, or its gunzipped content when it starts as gzip."""
    raw = cast(io.RawIOBase, stream)
    buffered = (
        stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(raw)
    )
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return cast(BinaryIO, gzip.GzipFile(fileobj=buffered, mode="rb"))
    return cast(BinaryIO, buffered)


def chunks_of(
    stream: BinaryIO, *, chunk_bytes: int = 128 * 1024 * 1024
) -> Iterator[Chunk]:
    """Chunks of about chunk_bytes each, cut at line ends."""
    next_line = 1
    pending = b""
    while True:
        block = stream.read(chunk_bytes)
        data = pending + block
        if not block:
            if data:
                yield _chunk(data, next_line)
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) <= MAX_LINE_BYTES:
            pending = data
            continue
        if cut == 0:
            # A line longer than a whole read: reject it as one line, and
            # read on to its end without taking the rest for new lines.
            skipped, pending = _skip_to_next_line(stream, chunk_bytes)
            yield _overlong(next_line, len(data) + skipped)
            next_line += 1
            continue
        chunk = _chunk(data[:cut], next_line)
        next_line += chunk.line_count
        pending = data[cut:]
        yield chunk


def _overlong(line: int, size: int) -> Chunk:
    reason = f"line is {size} bytes long; the limit is {MAX_LINE_BYTES}"
    return Chunk(line, b"", 1, [Rejection(line, reason)], size)


def _skip_to_next_line(stream: BinaryIO, chunk_bytes: int) -> tuple[int, bytes]:
    """Reads past the end of the current line: how many bytes that took (its
    newline included), and what follows it."""
    skipped = 0
    while True:
        block = stream.read(chunk_bytes)
        end = block.find(b"\n")
        if not block or end >= 0:
            return skipped + end + 1, block[end + 1 :]
        skipped += len(block)


def chunk_of_bytes(data: bytes, first_line: int = 1) -> Chunk:
    return _chunk(data, first_line)


def _chunk(data: bytes, first_line: int) -> Chunk:
    size = len(data)
    rejections: list[Rejection] = []
    if not data.isascii():  # ASCII is UTF-8, and far quicker to tell
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            data, rejections = _blank_bad_lines(data.split(b"\n"), first_line)
    if first_line == 1 and data.startswith(_BOM):
        data = data[len(_BOM) :]  # some Windows tools start every UTF-8 file with one
    line_count = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    return Chunk(first_line, data, line_count, rejections, size)


def _blank_bad_lines(
    raw_lines: list[bytes], first_line: int
) -> tuple[bytes, list[Rejection]]:
    lines: list[bytes] = []
    rejections: list[Rejection] = []
    for offset, raw in enumerate(raw_lines):
        try:
            raw.decode("utf-8")
            lines.append(raw)
        except UnicodeDecodeError as exc:
            lines.append(b"")
            reason = f"line is not valid UTF-8 (byte {exc.start + 1})"
            rejections.append(Rejection(first_line + offset, reason))
    return b"\n".join(lines), rejections
