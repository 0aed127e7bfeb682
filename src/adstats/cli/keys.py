"""`adstats keys create|list|revoke`."""

from typing import Annotated

import orjson
import typer

from adstats.cli.common import DbOption, open_admin, reports_errors, settings_with

app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)


@app.command("create")
@reports_errors
def create(
    account: Annotated[str, typer.Option("--account", help="Account id.")],
    name: Annotated[str, typer.Option("--name", help="A name for the key.")],
    description: Annotated[
        str | None, typer.Option("--description", help="What the key is for.")
    ] = None,
    expires_in_days: Annotated[
        int | None,
        typer.Option(
            "--expires-in-days", min=1, help="Revoke automatically after N days."
        ),
    ] = None,
    db: DbOption = None,
) -> None:
    """Create a key. Its secret, shown only now, goes alone to standard output;
    everything else to standard error."""
    admin = open_admin(settings_with(db))
    try:
        fields, secret = admin.create_key(account, name, description, expires_in_days)
    finally:
        admin.close()
    typer.echo(f"created API key {fields['key_id']} ({fields['name']}) for account "
               f"{fields['account_id']}; the secret is shown once:", err=True)  # fmt: skip
    typer.echo(secret)


@app.command("list")
@reports_errors
def list_keys(
    account: Annotated[str, typer.Option("--account", help="Account id.")],
    db: DbOption = None,
) -> None:
    """List an account's keys, one JSON object per line, never with a secret."""
    admin = open_admin(settings_with(db))
    try:
        for fields in admin.list_keys(account):
            typer.echo(orjson.dumps(fields).decode())
    finally:
        admin.close()


@app.command("revoke")
@reports_errors
def revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (see `keys list`).")],
    db: DbOption = None,
) -> None:
    """Revoke a key at once: it fails from the next request on."""
    admin = open_admin(settings_with(db))
    try:
        fields = admin.revoke_key(key_id)
    finally:
        admin.close()
    typer.echo(
        f"revoked API key {fields['key_id']} at {fields['revoked_at']}", err=True
    )
