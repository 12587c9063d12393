"""The operators' takedown command: purge a post's text from its history too (legal orders)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from .accounts import actor_of
from .errors import LiveblogError
from .models import User
from .runtime import runtime


@click.command("purge-post")
@click.argument("slug")
@click.argument("post_id")
@click.option("--reason", required=True, help="Why, kept in the post's private history.")
@click.option("--as", "admin", required=True, help="The admin the history names.")
@with_appcontext
def purge_post_command(slug: str, post_id: str, reason: str, admin: str) -> None:
    """Take a post down and erase its text from the private history too (admins)."""
    rt = runtime()
    with rt.db.read() as session:
        user = session.scalar(select(User).where(User.username == admin))
        if user is None:
            raise click.ClickException(f"No user named '{admin}'.")
        actor = actor_of(user)
    try:
        rt.service.purge_post(actor, slug, post_id, {"reason": reason})
    except LiveblogError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"Purged {post_id} from {slug}.", err=True)


def register(app: Flask) -> None:
    """Attach the takedown command to the app's CLI."""
    app.cli.add_command(purge_post_command)
