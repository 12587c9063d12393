"""The `liveblog` command: Flask's CLI group plus the operator's commands."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from .accounts import create_token, create_user
from .errors import LiveblogError
from .metrics import prepare_multiprocess_dir
from .runtime import runtime

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

# A fresh interpreter starts the live process and the app processes (supervisor.py).
SERVER_BOOT = "from liveblog.supervisor import main; main()"


def alembic_config(url: str) -> Config:
    """Return an Alembic configuration pointing at our migrations and database."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(url: str) -> None:
    """Create or upgrade the schema to the newest migration."""
    command.upgrade(alembic_config(url), "head")


def _fail(error: LiveblogError) -> None:
    raise click.ClickException(str(error))


@click.command("init-db")
@with_appcontext
def init_db() -> None:
    """Create or upgrade the database schema (safe to run again)."""
    upgrade_database(current_app.config["LIVEBLOG_DATABASE_URL"])
    click.echo("Database is up to date.")


@click.command("create-user")
@click.argument("name")
@click.option(
    "--role", type=click.Choice(["contributor", "reporter", "editor", "admin"]), required=True
)
@click.option("--password-stdin", is_flag=True, help="Read the password from one line of stdin.")
@click.option("--display-name", default=None, help="The name readers see.")
@with_appcontext
def create_user_command(
    name: str, role: str, password_stdin: bool, display_name: str | None
) -> None:
    """Add a newsroom user."""
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.ClickException("no password on standard input")
    try:
        create_user(runtime().db, name, role, password, display_name)
    except LiveblogError as error:
        _fail(error)
    click.echo(f"Created {role} {name}.", err=True)


@click.command("create-token")
@click.argument("name")
@with_appcontext
def create_token_command(name: str) -> None:
    """Print a new API token for a user, alone on one line."""
    try:
        click.echo(create_token(runtime().db, name))
    except LiveblogError as error:
        _fail(error)


@click.command("demo")
@click.option("--base-url", default=None, help="Where readers reach the server.")
@click.option("--replay", is_flag=True, help="Replay the night as a new live story.")
@click.option(
    "--speed",
    default=60.0,
    show_default=True,
    type=click.FloatRange(min=0.1, max=1e6),
    help="With --replay: how many times faster than it happened.",
)
@with_appcontext
def demo_command(base_url: str | None, replay: bool, speed: float) -> None:
    """Load the demo story (idempotent, an ended night) and print its reader URL.

    With --replay, play the night again as a new live story (posts, rulings and edits at
    their original pace divided by --speed), printing its URL first; Ctrl+C stops it.
    """
    from .demo import load_demo

    base = (base_url or os.environ.get("LIVEBLOG_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip(
        "/"
    )
    if not replay:
        click.echo(f"{base}/stories/{load_demo(runtime())}")
        return
    from .demo_replay import open_replay
    from .demo_replay import replay as play

    rt = runtime()
    slug = open_replay(rt)
    click.echo(f"{base}/stories/{slug}")
    click.echo(f"Replaying the demo night at {speed:g}x; Ctrl+C stops.", err=True)

    def progress(done: int, total: int) -> None:
        click.echo(f"  {done}/{total}", err=True)

    try:
        play(rt, slug, speed, progress=progress)
    except KeyboardInterrupt:
        click.echo("Replay stopped; the story is ended.", err=True)
        sys.exit(130)
    click.echo("Replay finished; the story is ended.", err=True)


@click.command("serve", context_settings={"ignore_unknown_options": True})
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--connections",
    default=20000,
    show_default=True,
    type=int,
    help="Connections each worker accepts.",
)
@click.option(
    "--app-workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes for pages, API and desk.",
)
@click.option(
    "--app-threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 256),
    help="Threads in each app process.",
)
@with_appcontext
def serve_command(
    host: str, port: int, workers: int, connections: int, app_workers: int, app_threads: int
) -> None:
    """Run the production server: readers in a live process, the rest in app processes."""
    channel = not runtime().broker.multiprocess
    if workers > 1 and channel:
        raise click.UsageError(
            "--workers above 1 needs LIVEBLOG_BROKER_URL=redis://…: with the in-process "
            "broker, events would not reach readers connected to the other workers."
        )
    argv = [
        sys.executable,
        "-c",
        SERVER_BOOT,
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--connections",
        str(connections),
        "--app-workers",
        str(app_workers),
        "--app-threads",
        str(app_threads),
        *(["--channel"] if channel else []),
    ]
    click.echo(
        f"liveblog serving on http://{host}:{port}/ with {workers} live and {app_workers} app"
        " worker(s)",
        err=True,
    )
    sys.stdout.flush()
    sys.stderr.flush()
    runtime().db.dispose()
    prepare_multiprocess_dir()  # every worker's metrics in one place, summed by /metrics
    os.environ.setdefault("GEVENT_TRACK_GREENLET_TREE", "0")  # saves ~2.5 KiB per reader
    os.execv(sys.executable, argv)  # noqa: S606 - replace this process with the server


def register(app: Flask) -> None:
    """Attach our commands to the app's CLI."""
    for cmd in (init_db, create_user_command, create_token_command, demo_command, serve_command):
        app.cli.add_command(cmd)
    from . import cli_accounts, cli_partners, cli_trust, cli_webhooks

    cli_accounts.register(app)
    cli_partners.register(app)
    cli_trust.register(app)
    cli_webhooks.register(app)


def _create_app() -> Flask:
    from . import create_app

    return create_app()


main = FlaskGroup(create_app=_create_app, help="liveblog: a newsroom live-blog engine.")
