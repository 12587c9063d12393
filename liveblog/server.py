"""The live process of `liveblog serve`: gunicorn with the gevent worker, on the public port.

It serves the WebSocket readers and `/healthz` and passes every other request on to the
app processes (`proxy.py`, `appserver.py`); with no Redis it also receives their events
over the event channel (`channel.py`). `supervisor.py` starts both sides.

`liveblog serve` starts a fresh interpreter that runs gevent's `monkey.patch_all()` before
it imports anything else, then calls `main()` here. The patch below is a no-op then, and a
safety net for anyone who imports this module some other way.
"""

from gevent import monkey

if not monkey.is_module_patched("socket"):
    monkey.patch_all()

import argparse  # noqa: E402
import gc  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
from gunicorn.app.base import BaseApplication  # noqa: E402
from gunicorn.workers.ggevent import GeventWorker  # noqa: E402


class LiveblogWorker(GeventWorker):  # type: ignore[misc]
    """The gevent worker, plus: on SIGTERM, tell live readers to reconnect, then drain."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        """Stop accepting, and hang up on readers so the worker need not wait them out."""
        super().handle_exit(sig, frame)
        app = getattr(self.wsgi, "live_app", self.wsgi)
        runtime = getattr(app, "extensions", {}).get("liveblog")
        if runtime is not None:
            gevent.spawn(runtime.hub.close_all)  # out of the signal handler
        lot = getattr(app, "extensions", {}).get("liveblog.lot")
        if lot is not None:  # parked readers have no handler to hear it: tell them now
            gevent.spawn(lot.close_all)


def raise_open_file_limit() -> int:
    """Raise the soft limit on open files to the hard limit; return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


class LiveblogServer(BaseApplication):  # type: ignore[misc]
    """Gunicorn application that loads `create_app()` in each worker."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        """Apply our settings to gunicorn's configuration."""
        for key, value in self.options.items():
            if key in self.cfg.settings:  # newer gunicorns know more settings
                self.cfg.set(key, value)

    def load(self) -> Any:
        """Build the app inside the worker, after gevent has patched everything."""
        from liveblog import create_app, wsserver
        from liveblog.channel import ChannelListener
        from liveblog.polls import FreshPolls
        from liveblog.proxy import Front
        from liveblog.views.delivery import cache_control

        app = create_app()
        wsserver.install(app)
        wsgi: Any = app
        listen = os.environ.get("LIVEBLOG_EVENTS_LISTEN")
        if listen:  # app processes publish here when there is no Redis
            ChannelListener(listen, app.extensions["liveblog"].hub).start()
        app_socket = os.environ.get("LIVEBLOG_APP_SOCKET")
        if app_socket:
            wsgi = Front(
                app,
                app_socket,
                app.config["LIVEBLOG_TRUSTED_PROXIES"],
                os.environ.get("LIVEBLOG_WRITE_SOCKET", ""),
            )
        # Shed readers poll the events API: answer the current ones here, from the hub.
        wsgi = FreshPolls(
            wsgi,
            app.extensions["liveblog"].hub,
            cache_control(app.config["LIVEBLOG_EVENTS_MAX_AGE"], private=False),
            app.config["SESSION_COOKIE_NAME"],
        )
        # Thousands of long-lived readers make full collections slow and frequent: collect
        # the old generation less often, and never scan what start-up allocated.
        gc.set_threshold(700, 10, 100)
        gc.freeze()
        return wsgi


def options(host: str, port: int, workers: int, connections: int) -> dict[str, Any]:
    """Return gunicorn settings sized for tens of thousands of WebSocket readers."""
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "worker_class": "liveblog.server.LiveblogWorker",
        "worker_connections": connections,
        "backlog": 4096,
        "keepalive": 5,
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "liveblog",
        "control_socket_disable": True,
        "child_exit": _child_exit,
        "pre_request": _no_request_log,
    }


def _no_request_log(_worker: Any, _req: Any) -> None:
    """Skip gunicorn's default debug line per request (about 2 % of a reader's connect)."""


def _child_exit(_server: Any, worker: Any) -> None:
    """Drop a dead worker's live gauges from the shared metrics."""
    from liveblog.metrics import worker_exited

    worker_exited(worker.pid)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the server until it is stopped."""
    parser = argparse.ArgumentParser(prog="liveblog serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=20000)
    args = parser.parse_args(argv)
    raise_open_file_limit()
    LiveblogServer(options(args.host, args.port, args.workers, args.connections)).run()


if __name__ == "__main__":
    main()
