"""The app processes of `liveblog serve`: pages, API and desk, never the readers.

Gunicorn with threaded workers on a private Unix socket that only the live process (the
front, see `proxy.py`) connects to. Threads, not gevent: a request that burns CPU (bleach,
a big render, a password hash) only takes its own thread, and the worker's heartbeat runs
on its main thread, so it never trips the worker timeout. These processes run at a lower
CPU priority than the live process, so under load the fan-out gets the CPU first.
Committed events reach the live process through the event channel (`channel.py`) or Redis.
With `--scheduler` (the write process only) a thread publishes scheduled drafts
(`scheduler.py`).
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from gunicorn.app.base import BaseApplication

from .proxy import behind_front

APP_NICENESS = 5  # the readers' process stays at 0


class AppServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn application that loads `create_app()` behind the front in each worker."""

    def __init__(self, options: dict[str, Any], *, scheduler: bool = False) -> None:
        self.options = options
        self.scheduler = scheduler
        super().__init__()

    def load_config(self) -> None:
        """Apply our settings to gunicorn's configuration."""
        for key, value in self.options.items():
            if key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app inside the worker."""
        from liveblog import create_app

        app = create_app()
        warm(app)
        if self.scheduler:  # one process of `liveblog serve` publishes scheduled drafts
            from liveblog.scheduler import Scheduler

            Scheduler(app.extensions["liveblog"].drafts).start()
        return behind_front(app)


def warm(app: Any) -> None:
    """Do the write path's one-time work at start: the mappers, the sanitizer, the renderers."""
    from sqlalchemy.orm import configure_mappers

    from liveblog.formats import warm as warm_formats

    configure_mappers()
    with app.app_context():
        warm_formats()


def options(socket_path: str, workers: int, threads: int) -> dict[str, Any]:
    """Return gunicorn settings for the app processes."""
    return {
        "bind": f"unix:{socket_path}",
        "workers": workers,
        "worker_class": "gthread",
        "threads": threads,
        "backlog": 2048,
        "keepalive": 5,
        "timeout": 60,
        "graceful_timeout": 10,
        "forwarded_allow_ips": "*",  # only the front reaches this socket
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "liveblog-app",
        "control_socket_disable": True,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the app processes until stopped."""
    parser = argparse.ArgumentParser(prog="liveblog-app")
    parser.add_argument("--socket", required=True)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--scheduler", action="store_true", help="publish scheduled drafts")
    args = parser.parse_args(argv)
    os.nice(APP_NICENESS)
    AppServer(options(args.socket, args.workers, args.threads), scheduler=args.scheduler).run()


if __name__ == "__main__":
    main()
