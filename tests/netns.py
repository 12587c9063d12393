"""Network namespaces for many-host tests: a bridge, nodes on it, processes inside, cleanup.

Nothing here touches the root namespace's network: the bridge lives in a namespace of its
own, and each veth pair is created with one end already in the bridge's namespace and the
other in the node's, so interface names are local and parallel runs never clash. Every
namespace carries this run's prefix (owner PID and a random part). `close()` kills every
process started here (by PID, with all its descendants) before it deletes the namespaces;
it is safe to call twice.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def available() -> str:
    """Return why namespaces cannot be used here, or "" when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "iproute2 (ip) is not installed"
    probe = f"lbprobe{uuid.uuid4().hex[:6]}"
    made = subprocess.run(["ip", "netns", "add", probe], capture_output=True, timeout=10)
    if made.returncode != 0:
        return f"ip netns add failed: {made.stderr.decode().strip()}"
    subprocess.run(["ip", "netns", "del", probe], capture_output=True, timeout=10)
    return ""


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))


@contextlib.contextmanager
def entered(namespace: str) -> Iterator[None]:
    """Run the body with this thread in a namespace: sockets made there stay there."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(f"/run/netns/{namespace}", os.O_RDONLY)
    try:
        _setns(target)
        yield
    finally:
        _setns(own)
        os.close(own)
        os.close(target)


def descendants(pid: int) -> list[int]:
    """Return every descendant of a process, children first."""
    try:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    found: list[int] = []
    for child in children:
        found.extend([child, *descendants(child)])
    return found


def _gone(pid: int) -> bool:
    """Tell whether a process has exited (a zombie has: its sockets are closed)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def kill_tree(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL a process and all its descendants; return when every one has exited."""
    pids = [*descendants(proc.pid), proc.pid] if proc.poll() is None else []
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(10)
    deadline = time.monotonic() + 10
    while not all(_gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.02)


def sweep() -> None:
    """Remove what runs that died without cleaning up (their owner PID is gone) left behind."""
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, timeout=10)
    for line in listed.stdout.decode().splitlines():
        found = re.match(r"(lb(\d+)x[0-9a-f]+-\w+)", line)
        if not found or Path(f"/proc/{found[2]}").exists():
            continue
        pids = subprocess.run(["ip", "netns", "pids", found[1]], capture_output=True, timeout=10)
        for pid in pids.stdout.split():
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(pid), signal.SIGKILL)
        subprocess.run(["ip", "netns", "del", found[1]], capture_output=True, timeout=10)


class Network:
    """One bridge in its own namespace and nodes attached to it, all on 10.44.0.0/16.

    Namespaces are named lb<owner pid>x<random>-<role>, so `sweep()` can tell leftovers
    of a dead run from a live parallel run's.
    """

    def __init__(self) -> None:
        sweep()
        self.prefix = f"lb{os.getpid()}x{uuid.uuid4().hex[:6]}"
        self.namespaces: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []
        self.bridge = self._namespace("br")
        self.ip(self.bridge, "link", "add", "br0", "type", "bridge")
        self.ip(self.bridge, "link", "set", "br0", "up")

    def _namespace(self, role: str) -> str:
        name = f"{self.prefix}-{role}"
        subprocess.run(["ip", "netns", "add", name], check=True, capture_output=True, timeout=10)
        self.namespaces.append(name)
        self.ip(name, "link", "set", "lo", "up")
        return name

    def ip(self, namespace: str, *args: str) -> None:
        """Run `ip` inside a namespace; raise with its message when it fails."""
        done = subprocess.run(["ip", "-n", namespace, *args], capture_output=True, timeout=10)
        if done.returncode != 0:
            raise RuntimeError(f"ip -n {namespace} {' '.join(args)}: {done.stderr.decode()}")

    def node(self, role: str, *addresses: str) -> str:
        """Add a namespace joined to the bridge (eth0 with the addresses) and return its name."""
        name = self._namespace(role)
        self.ip(
            self.bridge, "link", "add", role, "type", "veth", "peer", "name", "eth0", "netns", name
        )
        self.ip(self.bridge, "link", "set", role, "master", "br0", "up")
        for address in addresses:
            self.ip(name, "addr", "add", f"{address}/16", "dev", "eth0")
        self.ip(name, "link", "set", "eth0", "up")
        return name

    def popen(
        self, namespace: str, cmd: list[str], log: Path, **kw: Any
    ) -> subprocess.Popen[bytes]:
        """Start a process inside a namespace, output to a log; it is killed by close()."""
        with open(log, "ab") as out:
            proc = subprocess.Popen(
                ["ip", "netns", "exec", namespace, *cmd], stdout=out, stderr=out, **kw
            )
        self.procs.append(proc)
        return proc

    def run(self, namespace: str, *cmd: str, timeout: float = 20) -> str:
        """Run a command inside a namespace and return its output; raise with its errors."""
        done = subprocess.run(
            ["ip", "netns", "exec", namespace, *cmd], capture_output=True, timeout=timeout
        )
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} in {namespace}: {done.stderr.decode()[-500:]}")
        return done.stdout.decode()

    def close(self) -> None:
        """Kill every process started here, then delete every namespace."""
        for proc in reversed(self.procs):
            kill_tree(proc)
        self.procs.clear()
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], capture_output=True, timeout=10)
        self.namespaces.clear()
