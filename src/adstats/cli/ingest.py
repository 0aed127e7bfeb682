"""`adstats ingest FILE...`."""

import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Annotated, BinaryIO

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from adstats.admin.base import Admin
from adstats.cli.common import DbOption, open_admin, reports_errors, settings_with
from adstats.ingest.reader import Chunk, chunks_of, open_maybe_gzip
from adstats.ingest.report import IngestReport


class _Counting:
    """Counts the raw bytes read, so progress follows the file, gzip or not."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.count = 0

    def read(self, size: int = -1) -> bytes:
        data = self._raw.read(size)
        self.count += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        read = self._raw.readinto(buffer)  # type: ignore[attr-defined]
        self.count += read or 0
        return int(read or 0)

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._raw.closed


def _print_report(name: str, report: IngestReport) -> None:
    typer.echo(
        f"{name}: accepted {report.accepted}, duplicates {report.duplicates}, "
        f"rejected {len(report.rejected)}"
    )
    for rejection in report.rejected:
        typer.echo(f"  line {rejection.line}: {rejection.reason}")


def ingest(
    files: Annotated[
        list[str],
        typer.Argument(help="NDJSON files (.gz accepted); - for standard input."),
    ],
    db: DbOption = None,
    json_output: Annotated[
        bool,
        typer.Option("--json", help="Print the report as JSON, one object per file."),
    ] = False,
) -> None:
    """Ingest NDJSON event files, then print the ingestion report. Rejected
    lines are reported and do not stop the rest; the exit status is 0 unless
    the ingestion itself failed."""
    _ingest(files, db, json_output)


@reports_errors
def _ingest(files: list[str], db: str | None, json_output: bool) -> None:
    settings = settings_with(db)
    admin = open_admin(settings)
    try:
        for name in files:
            report = ingest_file(admin, name, settings.ingest_chunk_mb << 20)
            if json_output:
                typer.echo(orjson.dumps({"file": name, **report.as_json()}).decode())
            else:
                _print_report(name, report)
    finally:
        admin.close()


def ingest_file(admin: Admin, name: str, chunk_bytes: int) -> IngestReport:
    with ExitStack() as stack:
        raw: BinaryIO
        if name == "-":
            raw = sys.stdin.buffer
            total = None
        else:
            raw = stack.enter_context(Path(name).open("rb"))
            total = Path(name).stat().st_size
        counting = _Counting(raw)
        stream = open_maybe_gzip(counting)  # type: ignore[arg-type]
        progress = stack.enter_context(
            Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
                disable=not sys.stderr.isatty(),
                redirect_stdout=False,
            )
        )
        task = progress.add_task(name, total=total)

        def advance(_size: int) -> None:
            progress.update(task, completed=counting.count)

        chunks: Iterator[Chunk] = chunks_of(stream, chunk_bytes=chunk_bytes)
        return admin.ingest(chunks, advance)
