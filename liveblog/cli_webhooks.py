"""The operators' webhook commands: create, list, pause, resume, redeliver and delete."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from .errors import LiveblogError
from .runtime import runtime
from .webhooks import create_webhook, delete_webhook, list_webhooks, redeliver, set_paused


def _fail(error: LiveblogError) -> None:
    raise click.ClickException(str(error)) from None


@click.command("create-webhook")
@click.argument("url")
@click.option("--story", "slug", default=None, help="Only this story's events (default: all).")
@with_appcontext
def create_webhook_command(url: str, slug: str | None) -> None:
    """Add an endpoint; print its id and its signing secret on one line (shown only now)."""
    try:
        hook_id, secret = create_webhook(
            runtime().db, current_app.config["LIVEBLOG_SECRET_KEY"], url, slug, "cli"
        )
    except LiveblogError as error:
        _fail(error)
    click.echo(f"{hook_id} {secret}")


@click.command("delete-webhook")
@click.argument("webhook_id", type=int)
@with_appcontext
def delete_webhook_command(webhook_id: int) -> None:
    """Remove an endpoint: nothing more is sent to it."""
    try:
        delete_webhook(runtime().db, webhook_id)
    except LiveblogError as error:
        _fail(error)
    click.echo(f"Deleted webhook {webhook_id}.", err=True)


@click.command("list-webhooks")
@with_appcontext
def list_webhooks_command() -> None:
    """Print every endpoint: id, state, story (or *), cursor and URL."""
    for hook in list_webhooks(runtime().db, attempts=0):
        cursor = ",".join(f"{slug}:{seq}" for slug, seq in hook.cursor.items()) or "-"
        click.echo(f"{hook.id} {hook.state} {hook.story or '*'} {cursor} {hook.url}")


@click.command("pause-webhook")
@click.argument("webhook_id", type=int)
@with_appcontext
def pause_webhook_command(webhook_id: int) -> None:
    """Stop delivering to an endpoint until it is resumed (events wait in the log)."""
    try:
        set_paused(runtime().db, webhook_id, paused=True, reason="paused from the CLI")
    except LiveblogError as error:
        _fail(error)


@click.command("resume-webhook")
@click.argument("webhook_id", type=int)
@with_appcontext
def resume_webhook_command(webhook_id: int) -> None:
    """Deliver to a paused endpoint again, from where it stopped."""
    try:
        set_paused(runtime().db, webhook_id, paused=False)
    except LiveblogError as error:
        _fail(error)


@click.command("redeliver-webhook")
@click.argument("webhook_id", type=int)
@click.option("--from-seq", "seq", type=int, required=True, help="The first seq to send again.")
@click.option("--story", "slug", default=None, help="Only this story (default: every story).")
@with_appcontext
def redeliver_webhook_command(webhook_id: int, seq: int, slug: str | None) -> None:
    """Send an endpoint its events again from a seq on."""
    try:
        redeliver(runtime().db, webhook_id, seq, slug)
    except LiveblogError as error:
        _fail(error)


def register(app: Flask) -> None:
    """Attach the webhook commands to the app's CLI."""
    for command in (
        create_webhook_command,
        delete_webhook_command,
        list_webhooks_command,
        pause_webhook_command,
        resume_webhook_command,
        redeliver_webhook_command,
    ):
        app.cli.add_command(command)
