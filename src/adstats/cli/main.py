"""The `adstats` command and its subcommands."""

import sys

import typer

from adstats import __version__
from adstats.cli import catalog, demo, generate, ingest, keys, serve

app = typer.Typer(
    name="adstats",
    help="Exact, real-time, billing-grade campaign statistics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    add_completion=False,
)
app.add_typer(catalog.app, name="catalog")
app.add_typer(keys.app, name="keys")
app.command("ingest")(ingest.ingest)
app.command("serve")(serve.serve)
app.command("generate")(generate.generate)
app.command("demo")(demo.demo)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"adstats {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Show the version."
    ),
) -> None:
    """Exact, real-time, billing-grade campaign statistics."""


def run() -> None:
    sys.exit(app())
