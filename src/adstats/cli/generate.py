"""`adstats generate`: realistic NDJSON traffic for a catalog."""

import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from adstats.cli.common import open_admin, reports_errors, settings_with
from adstats.errors import CatalogError, UserError
from adstats.generate.demo_catalog import demo_catalog
from adstats.generate.traffic import generate as generate_traffic


def generate(
    catalog: Annotated[
        Path | None,
        typer.Option(
            "--catalog", help="Catalog JSON file. [default: the demo catalog]"
        ),
    ] = None,
    output: Annotated[
        str,
        typer.Option("--output", "-o", help="File to write; - for standard output."),
    ] = "-",
    events: Annotated[
        int, typer.Option("--events", min=0, help="About how many.")
    ] = 100_000,
    days: Annotated[
        int, typer.Option("--days", min=1, max=3660, help="How many days.")
    ] = 60,
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last day YYYY-MM-DD. [default: yesterday]"),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same bytes.")] = 1,
    write_catalog: Annotated[
        Path | None,
        typer.Option(
            "--write-catalog", help="Also write the catalog used to this file."
        ),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Use the catalog stored in this database (when no --catalog).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write realistic event traffic as NDJSON: daily and weekly rhythm, funnel
    rates for display and video, retried duplicates and a few invalid lines."""
    _generate(catalog or db, output, events, days, end, seed, write_catalog)


@reports_errors
def _generate(
    catalog_file: Path | str | None,
    output: str,
    events: int,
    days: int,
    end: str | None,
    seed: int,
    write_catalog: Path | None,
) -> None:
    if catalog_file is None:
        document: dict[str, Any] = demo_catalog()
    elif isinstance(catalog_file, Path):
        document = _read(catalog_file)
    else:
        document = _stored_catalog(catalog_file)
    if write_catalog is not None:
        write_catalog.write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2))
    last = _day(end) if end else date.today() - timedelta(days=1)
    if output == "-":
        summary = generate_traffic(document, sys.stdout.buffer, end=last, days=days,
                                   events=events, seed=seed)  # fmt: skip
    else:
        with Path(output).open("wb") as out:
            summary = generate_traffic(document, out, end=last, days=days,
                                       events=events, seed=seed)  # fmt: skip
    typer.echo(
        f"wrote {summary.lines} lines: {summary.valid_events} events, "
        f"{summary.duplicates} duplicates, {summary.invalid} invalid",
        err=True,
    )


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise UserError(
            f"--end must be a real day written YYYY-MM-DD, not {text!r}"
        ) from None


def _stored_catalog(db: str) -> dict[str, Any]:
    """The catalog a database holds, as a catalog document."""
    admin = open_admin(settings_with(db))
    try:
        return admin.catalog_document()
    finally:
        admin.close()


def _read(path: Path) -> dict[str, object]:
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise CatalogError(f"{path} must hold a JSON object")
    return document
