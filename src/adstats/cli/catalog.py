"""`adstats catalog load FILE`."""

from pathlib import Path
from typing import Annotated

import orjson
import typer

from adstats.cli.common import DbOption, open_admin, reports_errors, settings_with
from adstats.errors import CatalogError

app = typer.Typer(help="Load or update the catalog.", no_args_is_help=True)


@app.command("load")
@reports_errors
def load(
    file: Annotated[Path, typer.Argument(help="Catalog JSON file (SPEC section 1).")],
    db: DbOption = None,
) -> None:
    """Load or update the catalog: an upsert by id, refused whole if any item
    breaks a rule."""
    try:
        document = orjson.loads(file.read_bytes())
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"{file} is not valid JSON: {exc}") from None
    admin = open_admin(settings_with(db))
    try:
        summary = admin.load_catalog(document)
    finally:
        admin.close()
    typer.echo(summary.describe(), err=True)
