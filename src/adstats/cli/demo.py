"""`adstats demo`: a realistic demo account, its traffic, a key, and the API."""

import tempfile
import time
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from adstats.admin.base import Admin
from adstats.cli.common import reports_errors, settings_with, setup_logging
from adstats.cli.ingest import ingest_file
from adstats.errors import UserError
from adstats.generate.demo_catalog import demo_catalog
from adstats.generate.traffic import generate as generate_traffic
from adstats.settings import Settings
from adstats.storage.open import open_store

DEMO_DB = "adstats-demo.duckdb"
DEMO_DAYS = 60
DEMO_EVENTS = 2_100_000


def demo(
    db: Annotated[
        str | None,
        typer.Option(
            "--db", help=f"Demo database file, replaced. [default: {DEMO_DB}]"
        ),
    ] = None,
    host: Annotated[str, typer.Option("--host", help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535)] = 8000,
    events: Annotated[int, typer.Option("--events", min=0)] = DEMO_EVENTS,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the API afterwards.")
    ] = True,
) -> None:
    """Load a realistic demo account and about 60 days of its traffic into a
    fresh local database, print a working key and example requests, and serve."""
    _demo(db or DEMO_DB, host, port, events, serve)


@reports_errors
def _demo(db: str, host: str, port: int, events: int, serve: bool) -> None:
    setup_logging("WARNING")
    _fresh(Path(db))
    store = open_store(db)
    store.set_label("demo", "true")
    from adstats.admin.local import LocalAdmin  # the engine, not needed for --help

    admin = LocalAdmin(store)
    document = demo_catalog()
    account = document["accounts"][0]
    yesterday = datetime.now(ZoneInfo(str(account["timezone"]))).date() - timedelta(
        days=1
    )
    try:
        admin.load_catalog(document)
        _ingest_traffic(admin, document, yesterday, events)
        _key_fields, secret = admin.create_key(
            str(account["id"]), "demo", "adstats demo", None
        )
    finally:
        admin.close()
    _print_examples(secret, host, port, str(document["campaigns"][0]["id"]), yesterday)
    if serve:
        settings = replace(settings_with(db), host=host, port=port)
        setup_logging(settings.log_level)
        from adstats.api.server import serve as run_server  # the HTTP stack

        run_server(settings)


def _fresh(path: Path) -> None:
    """Removes an earlier demo database; refuses to touch anything else."""
    if path.exists():
        store = open_store(str(path))
        try:
            made_by_demo = store.label("demo") == "true"
        finally:
            store.close()
        if not made_by_demo:
            raise UserError(
                f"{path} exists and was not made by adstats demo; "
                "pass another --db for the demo"
            )
    for suffix in ("", ".wal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _ingest_traffic(
    admin: Admin,
    document: dict[str, list[dict[str, object]]],
    end: object,
    events: int,
) -> None:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="adstats-demo-") as folder:
        traffic = Path(folder) / "events.ndjson"
        with traffic.open("wb") as out:
            summary = generate_traffic(document, out, end=end, days=DEMO_DAYS,  # type: ignore[arg-type]
                                       events=events, seed=1)  # fmt: skip
        typer.echo(f"generated {summary.lines} lines in "
                   f"{time.monotonic() - started:.1f}s; ingesting", err=True)  # fmt: skip
        report = ingest_file(admin, str(traffic), Settings.ingest_chunk_mb << 20)
    typer.echo(
        f"ingested: accepted {report.accepted}, duplicates {report.duplicates}, "
        f"rejected {len(report.rejected)} (the demo traffic has a few bad lines on "
        f"purpose) in {time.monotonic() - started:.1f}s",
        err=True,
    )


def _print_examples(
    secret: str, host: str, port: int, campaign_id: str, day: object
) -> None:
    base = f"http://{host}:{port}/api"
    first = datetime.fromisoformat(str(day)).date() - timedelta(days=29)
    typer.echo(f"""
Demo API key (shown once): {secret}

Try:
  curl -H 'X-Api-Key: {secret}' '{base}/campaigns'
  curl -H 'X-Api-Key: {secret}' '{base}/campaigns/{campaign_id}?date_from={first}&date_to={day}&by_day=true'
  curl '{base}/campaigns/{campaign_id}?api_key={secret}&by_insertion=true&by_content=true&format=csv'

OpenAPI documentation: http://{host}:{port}/api/docs
""")  # noqa: E501
