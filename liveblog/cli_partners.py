"""The operators' partner-key commands: create a read-only key, revoke a partner's keys."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .errors import LiveblogError
from .partners import create_key, revoke_key
from .runtime import runtime


@click.command("create-partner-key")
@click.argument("name")
@click.option("--rate", type=int, default=None, help="Requests a minute (default: config).")
@with_appcontext
def create_partner_key_command(name: str, rate: int | None) -> None:
    """Print a new read-only partner key, alone on one line."""
    try:
        key = create_key(
            runtime().db,
            name,
            rate if rate is not None else current_app.config["LIVEBLOG_PARTNER_RATE"],
        )
    except LiveblogError as error:
        raise click.ClickException(str(error)) from None
    click.echo(key)


@click.command("revoke-partner-key")
@click.argument("name")
@with_appcontext
def revoke_partner_key_command(name: str) -> None:
    """Revoke every key of a partner at once."""
    try:
        count = revoke_key(runtime().db, name)
    except LiveblogError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Revoked {count} key(s) of {name}.", err=True)


def register(app: Flask) -> None:
    """Attach the partner-key commands to the app's CLI."""
    for command in (create_partner_key_command, revoke_partner_key_command):
        app.cli.add_command(command)
