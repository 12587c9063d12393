"""`liveblog serve`: start the live process and the app processes, and stop them together.

Imports nothing from Flask; it only starts and watches three gunicorn masters and a
plain process:

- the live process (`server.py`, gevent) on the public port: WebSocket readers and
  `/healthz`, everything else passed on to
- the app processes (`appserver.py`, threads, lower CPU priority) on a Unix socket in a
  private directory made for this run: pages, feeds, sign-ins, previews; and
- the write process (the same code, on its own socket): the API's and the desk's writes,
  so that a flood of page views or sign-ins never queues a reporter's update. Its one
  worker also runs the scheduler that publishes scheduled drafts (`scheduler.py`); and
- the webhook dispatcher (`dispatcher.py`), which POSTs events to partners' endpoints.

With no Redis, a second Unix socket beside it carries committed events from the app
processes to the live process (`channel.py`). A signal to this process goes to both. When
an app side dies on its own it is started again (readers stay connected meanwhile); when
the live side ends, everything stops. Each child gets SIGTERM should this process die
without a word (kill -9).
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import FrameType

LIVE_BOOT = (
    "from gevent import monkey; monkey.patch_all(); from liveblog.server import main; main()"
)
APP_BOOT = "from liveblog.appserver import main; main()"
DISPATCHER_BOOT = "from liveblog.dispatcher import main; main()"
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP)
PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child: ask Linux for SIGTERM when the supervisor dies."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _commands(args: argparse.Namespace, rundir: Path) -> tuple[list[str], dict[str, list[str]]]:
    live = [
        sys.executable,
        "-c",
        LIVE_BOOT,
        "--host",
        args.host,
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--connections",
        str(args.connections),
    ]

    def app(socket_name: str, workers: int, threads: int, *extra: str) -> list[str]:
        return [
            sys.executable,
            "-c",
            APP_BOOT,
            "--socket",
            str(rundir / socket_name),
            "--workers",
            str(workers),
            "--threads",
            str(threads),
            *extra,
        ]

    # Pages, feeds, sign-ins and previews in one pool; the API's and the desk's writes in
    # a small one of their own, so no flood of the first kind delays an update. Webhooks
    # go out from a process of their own: a slow partner never holds a reader or a write.
    return live, {
        "app": app("app.sock", args.app_workers, args.app_threads),
        "write": app("write.sock", 1, 4, "--scheduler"),  # the one scheduler of this server
        "webhooks": [sys.executable, "-c", DISPATCHER_BOOT],
    }


def _environments(channel: bool, rundir: Path) -> tuple[dict[str, str], dict[str, str]]:
    base = {k: v for k, v in os.environ.items() if k != "LIVEBLOG_EVENTS_SOCKET"}
    if not base.get("PROMETHEUS_MULTIPROC_DIR"):  # every process's metrics, summed by /metrics
        (rundir / "metrics").mkdir()
        base["PROMETHEUS_MULTIPROC_DIR"] = str(rundir / "metrics")
    live = dict(
        base,
        LIVEBLOG_APP_SOCKET=str(rundir / "app.sock"),
        LIVEBLOG_WRITE_SOCKET=str(rundir / "write.sock"),
    )
    live.setdefault("GEVENT_TRACK_GREENLET_TREE", "0")  # saves ~2.5 KiB per reader
    app = dict(base)
    if channel:
        live["LIVEBLOG_EVENTS_LISTEN"] = str(rundir / "events.sock")
        app["LIVEBLOG_EVENTS_SOCKET"] = str(rundir / "events.sock")
    return live, app


def _stop(proc: subprocess.Popen[bytes], grace: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _may_restart(restarts: list[float]) -> bool:
    """Allow a restart unless the side has died five times in the last minute."""
    now = time.monotonic()
    restarts[:] = [t for t in restarts if now - t < 60] + [now]
    return len(restarts) <= 5


def main(argv: list[str] | None = None) -> None:
    """Run the live process and the app processes until stopped."""
    parser = argparse.ArgumentParser(prog="liveblog serve")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--app-workers", type=int, default=1)
    parser.add_argument("--app-threads", type=int, default=8)
    parser.add_argument("--channel", action="store_true", help="events over a local socket")
    args = parser.parse_args(argv)

    rundir = Path(tempfile.mkdtemp(prefix="liveblog-"))  # mode 0700: only we reach the sockets
    live_cmd, app_cmds = _commands(args, rundir)
    live_env, app_env = _environments(args.channel, rundir)
    children: list[subprocess.Popen[bytes]] = []

    def forward(signum: int, _frame: FrameType | None) -> None:
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(signum)

    stopping = [False]

    def stop_on(signum: int, frame: FrameType | None) -> None:
        if signum != signal.SIGHUP:
            stopping[0] = True
        forward(signum, frame)

    for signum in FORWARDED:
        signal.signal(signum, stop_on)
    code = 0
    try:
        apps = {
            name: subprocess.Popen(cmd, env=app_env, preexec_fn=_die_with_parent)  # noqa: PLW1509
            for name, cmd in app_cmds.items()
        }
        live = subprocess.Popen(live_cmd, env=live_env, preexec_fn=_die_with_parent)  # noqa: PLW1509
        children[:] = [*apps.values(), live]
        restarts: dict[str, list[float]] = {name: [] for name in apps}
        while True:
            pid, status = os.wait()
            code = os.waitstatus_to_exitcode(status)
            dead = next((name for name, proc in apps.items() if proc.pid == pid), None)
            if dead and not stopping[0] and _may_restart(restarts[dead]):
                # An app side died on its own: readers stay, pages come back.
                apps[dead].returncode = code
                time.sleep(1.0)
                apps[dead] = subprocess.Popen(  # noqa: PLW1509
                    app_cmds[dead], env=app_env, preexec_fn=_die_with_parent
                )
                children[:] = [*apps.values(), live]
                continue
            if dead == "webhooks" and not stopping[0]:
                # A dispatcher that keeps dying leaves webhooks waiting in the log, and
                # takes neither readers nor pages down with it.
                apps[dead].returncode = code
                print("liveblog: the webhook dispatcher keeps failing", file=sys.stderr)
                continue
            for child in children:
                if child.pid == pid:
                    child.returncode = code
            break
        stopping[0] = True
        for child in children:
            _stop(child, 20.0)
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.wait()
        shutil.rmtree(rundir, ignore_errors=True)
    sys.exit(max(code, 0))


if __name__ == "__main__":
    main()
