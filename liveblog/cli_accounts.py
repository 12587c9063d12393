"""The operators' account commands: revoke a user's tokens, disable or enable a user."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext

from .accounts import revoke_tokens, set_disabled
from .errors import LiveblogError
from .runtime import runtime


@click.command("revoke-token")
@click.argument("name")
@with_appcontext
def revoke_token_command(name: str) -> None:
    """Revoke every API token of a user."""
    try:
        count = revoke_tokens(runtime().db, name)
    except LiveblogError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Revoked {count} token(s) of {name}.", err=True)


@click.command("disable-user")
@click.argument("name")
@with_appcontext
def disable_user_command(name: str) -> None:
    """Disable a user: their desk sessions and API tokens end at once; no sign-in."""
    try:
        set_disabled(runtime().db, name, disabled=True)
    except LiveblogError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Disabled {name}: sessions ended, tokens revoked.", err=True)


@click.command("enable-user")
@click.argument("name")
@with_appcontext
def enable_user_command(name: str) -> None:
    """Let a disabled user sign in again (their old tokens stay revoked)."""
    try:
        set_disabled(runtime().db, name, disabled=False)
    except LiveblogError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Enabled {name}.", err=True)


def register(app: Flask) -> None:
    """Attach the account commands to the app's CLI."""
    for command in (revoke_token_command, disable_user_command, enable_user_command):
        app.cli.add_command(command)
