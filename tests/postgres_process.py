"""A private PostgreSQL server for fault tests: its own data directory, port and process.

Tests stop and restart this one, never the machine's. The server runs as the `postgres`
user (`runuser`, since the tests run as root), listens on 127.0.0.1 on a free port and on
a socket in its own directory, trusts local connections, and is removed when it stops.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from servers import free_port, wait_until


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if not found:
        raise FileNotFoundError(f"{name} not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def available() -> bool:
    """Tell whether this machine can run a private PostgreSQL."""
    try:
        _bin("pg_ctl")
    except FileNotFoundError:
        return False
    return shutil.which("runuser") is not None or os.geteuid() != 0


class PostgresProcess:
    """initdb + pg_ctl in a temporary directory; start, stop and restart on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="liveblog-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            _bin("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
        )

    def _run(self, *cmd: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run(
            [*prefix, *cmd],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            timeout=60,
        )

    @property
    def url(self) -> str:
        """Return the SQLAlchemy URL of its `liveblog` database."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/liveblog"

    def start(self) -> PostgresProcess:
        """Start the server and wait until it accepts connections."""
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            _bin("pg_ctl"), "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start"
        )
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        wait_until(
            lambda: psycopg.connect(admin, connect_timeout=2).close() or True,
            20,
            "private postgres",
        )
        with psycopg.connect(admin, autocommit=True) as conn:
            if (
                conn.execute("SELECT 1 FROM pg_database WHERE datname = 'liveblog'").fetchone()
                is None
            ):
                conn.execute("CREATE DATABASE liveblog")
        return self

    def stop(self) -> None:
        """Stop the server at once (clients see their connections end)."""
        self._run(_bin("pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        """Stop it if it runs and delete its directory."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self.stop()
        shutil.rmtree(self.root, ignore_errors=True)
