"""The servers a benchmark measures: a real `liveblog serve`, and bench/reference.py.

Each is started in a temp dir with its own database and stopped by PID (`Target.close`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from procs import ServerProcess, free_port, http_json, http_request, wait_healthy

BENCH = Path(__file__).resolve().parent


def liveblog_body(seq: int, run: str, body_bytes: int) -> str:
    """Return a post body carrying the marker the readers check, about body_bytes long."""
    text = f"bm:{seq}:{run}: Air mulai surut di Kampung Melayu; petugas BPBD masih berjaga. "
    while len(text) < body_bytes:
        text += "Warga diminta tetap waspada terhadap hujan susulan malam ini. "
    return f"<p>{text[:body_bytes]}</p>"


@dataclass
class Target:
    """A server under test."""

    name: str
    host: str
    port: int
    path: str
    server: ServerProcess
    workdir: Path
    info: dict[str, Any] = field(default_factory=dict)
    first_seq: int = 1  # seq of the first measured update

    async def publish(self, seq: int) -> int:
        """Publish update `seq`; return the status (201 / 200 when accepted)."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop the server and forget its files."""
        self.server.stop()


class LiveblogTarget(Target):
    """A real `liveblog serve` with its own database and an editor's token."""

    token: str
    slug: str
    run: str
    body_bytes: int
    admin_db: str | None = None

    async def publish(self, seq: int) -> int:
        body = json.dumps({"body": liveblog_body(seq, self.run, self.body_bytes)}).encode()
        status, _ = await http_request(
            self.host,
            self.port,
            "POST",
            f"/api/v1/stories/{self.slug}/posts",
            body,
            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        return status

    def close(self) -> None:
        super().close()
        if self.admin_db:
            drop_postgres(*self.admin_db.split("\n"))


class ReferenceTarget(Target):
    """bench/reference.py, fed through its /control WebSocket."""

    control: Any = None
    payload_bytes: int = 600
    run: str = ""

    def payload(self, seq: int) -> str:
        """Return the broadcast text: seq, marker and publish time, padded to the size."""
        head = {"seq": seq, "type": "post.created", "t": time.monotonic(), "body": ""}
        marker = f"<p>bm:{seq}:{self.run}: "
        base = len(json.dumps(head, separators=(",", ":"))) + len(marker) + len("</p>")
        head["body"] = marker + "x" * max(0, self.payload_bytes - base) + "</p>"
        return json.dumps(head, separators=(",", ":"))

    async def open_control(self) -> None:
        """Connect the control socket (before the readers, so it is not in the storm)."""
        from websockets.asyncio.client import connect

        self.control = await connect(
            f"ws://{self.host}:{self.port}/control", compression=None, max_size=1 << 20
        )

    async def publish(self, seq: int) -> int:
        await self.control.send(self.payload(seq))
        answer = await self.control.recv()
        return 200 if str(answer).startswith("ok") else 500

    def close(self) -> None:
        if self.control is not None:
            with contextlib.suppress(Exception):
                self.control.transport.abort()
        super().close()


def create_postgres(url: str) -> tuple[str, str]:
    """Create a throwaway database next to `url`'s; return (its URL, admin URL + name)."""
    import psycopg

    name = f"liveblog_bench_{uuid.uuid4().hex[:10]}"
    admin = url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = url.rpartition("/")[0]
    return f"{base}/{name}", f"{admin}\n{name}"


def drop_postgres(admin: str, name: str) -> None:
    """Drop a database made by create_postgres."""
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def start_liveblog(args: argparse.Namespace, workdir: Path, run: str) -> LiveblogTarget:
    """Prepare a database with liveblog's own functions, start `liveblog serve`, add a story."""
    from liveblog.accounts import create_token, create_user
    from liveblog.cli import upgrade_database
    from liveblog.db import Database

    admin_db = None
    if args.db == "sqlite":
        db_url = f"sqlite:///{workdir / 'bench.db'}"
    else:
        db_url, admin_db = create_postgres(args.db)
    upgrade_database(db_url)
    db = Database(db_url)
    try:
        create_user(db, "bench", "editor", None, "Bench Desk")
        token = create_token(db, "bench")
    finally:
        db.dispose()

    instance = workdir / "instance"
    instance.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVEBLOG_")}
    env.update(
        LIVEBLOG_INSTANCE_PATH=str(instance),
        LIVEBLOG_DATABASE_URL=db_url,
        LIVEBLOG_SECRET_KEY=secrets.token_hex(16),
        LIVEBLOG_BROKER_URL=args.broker,
        # fanout.py's readers all come from this machine; attacks.py keeps the default cap.
        LIVEBLOG_WS_PER_IP=str(getattr(args, "ws_per_ip", 0)),
    )
    env.update(getattr(args, "server_env", None) or {})  # e.g. shedding.py's capacity
    # The server runs in the temp dir: make PYTHONPATH entries absolute. --liveblog-src puts
    # an experimental copy of the package first, for A/B runs.
    paths = [args.liveblog_src] if args.liveblog_src else []
    paths += [Path(p) for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(str(p.resolve()) for p in paths)
    exe = Path(sys.executable).with_name("liveblog")
    liveblog = str(exe) if exe.exists() else (shutil.which("liveblog") or "liveblog")
    port = free_port()
    cmd = [liveblog, "serve", "--host", "127.0.0.1", "--port", str(port)]
    cmd += ["--workers", str(args.workers)]
    server = ServerProcess("liveblog", cmd, env, workdir / "liveblog.log")
    target = LiveblogTarget("liveblog", "127.0.0.1", port, "", server, workdir)
    target.admin_db = admin_db
    target.token, target.run, target.body_bytes = token, run, args.body_bytes
    server.start(args.server_cpus)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server.proc, 60)  # type: ignore[arg-type]
        deadline = time.monotonic() + 30
        while len(server.workers()) < args.workers and time.monotonic() < deadline:
            time.sleep(0.1)
        slug = f"bench-{run}"
        status, story = http_json(
            f"http://127.0.0.1:{port}",
            "POST",
            "/api/v1/stories",
            {
                "title": "Banjir Jakarta (bench)",
                "language": "id",
                "timezone": "Asia/Jakarta",
                "slug": slug,
            },
            token,
        )
        if status != 201:
            raise RuntimeError(f"could not create the story: {status} {story!r}")
    except BaseException:
        target.close()
        raise
    target.slug = slug
    target.path = f"/stories/{slug}/live"
    target.info = {
        "workers": args.workers,
        "broker": args.broker or "in-process",
        "db": "sqlite" if args.db == "sqlite" else "postgresql",
    }
    return target


def start_reference(args: argparse.Namespace, workdir: Path, run: str) -> ReferenceTarget:
    """Start bench/reference.py pinned like liveblog."""
    port = free_port()
    cmd = [sys.executable, str(BENCH / "reference.py"), "--port", str(port)]
    server = ServerProcess("reference", cmd, dict(os.environ), workdir / "reference.log")
    path = "/stories/bench/live"
    target = ReferenceTarget("reference", "127.0.0.1", port, path, server, workdir)
    target.run = run
    server.start(args.server_cpus)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server.proc, 30)  # type: ignore[arg-type]
    except BaseException:
        target.close()
        raise
    import websockets

    target.info = {"workers": 1, "websockets": websockets.__version__}
    return target


# -- the reader fleet ------------------------------------------------------------------------
