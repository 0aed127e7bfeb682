"""`adstats serve`."""

from dataclasses import replace
from typing import Annotated

import typer

from adstats.cli.common import DbOption, reports_errors, settings_with, setup_logging


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to bind. [default: 127.0.0.1]")
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", min=1, max=65535, help="Port to bind. [default: 8000]"),
    ] = None,
    db: DbOption = None,
) -> None:
    """Run the HTTP API. Commands run meanwhile on the same database hand their
    work to this server."""
    _serve(host, port, db)


@reports_errors
def _serve(host: str | None, port: int | None, db: str | None) -> None:
    settings = settings_with(db)
    settings = replace(settings, host=host or settings.host, port=port or settings.port)
    setup_logging(settings.log_level)
    from adstats.api.server import serve as run_server  # the HTTP stack, only to serve

    run_server(settings)
