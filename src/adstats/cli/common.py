"""What every subcommand shares: --db, opening the admin, errors, logging."""

import logging
import sys
import zlib
from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Annotated, ParamSpec, TypeVar

import typer

from adstats.admin.base import Admin
from adstats.admin.handoff import read_note
from adstats.admin.remote import RemoteAdmin, ServerUnreachable
from adstats.errors import AdstatsError, DatabaseBusy
from adstats.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database location: a DuckDB file path. "
        "[default: $ADSTATS_DB, else adstats.duckdb in the working directory]",
        show_default=False,
    ),
]


def settings_with(db: str | None) -> Settings:
    settings = Settings.from_env()
    return replace(settings, db=db) if db else settings


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(
        level=level,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )


def open_admin(settings: Settings) -> Admin:
    """Works on the database directly, or through the server that holds it."""
    # Imported here: the database and its engine are not needed for --help.
    from adstats.admin.local import LocalAdmin
    from adstats.storage.open import open_store

    db = settings.db
    try:
        return LocalAdmin(open_store(db, settings.memory_limit_mb))
    except DatabaseBusy:
        note = read_note(db)
        if note is None:
            raise DatabaseBusy(
                f"the database {db} is in use by another process that is not an "
                "adstats server; wait for it to finish"
            ) from None
        return RemoteAdmin(note)


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.echo(f"adstats: error: {message}", err=True)
    return typer.Exit(code)


def reports_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turns adstats errors into one line on standard error and exit status 1."""

    @wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (AdstatsError, ServerUnreachable) as exc:
            raise fail(
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            ) from None
        except (EOFError, zlib.error) as exc:
            raise fail(f"the input is truncated or corrupt ({exc})") from None
        except OSError as exc:
            raise fail(
                f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": ")
            ) from None

    return wrapper
