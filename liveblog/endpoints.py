"""Partners' endpoint URLs: check them, resolve them, and POST only to the checked address.

Imports nothing from Flask. A URL must be http(s) with a host; every address its host
resolves to must be public (not loopback, private, link-local, multicast, reserved or
unspecified, IPv4 or IPv6, IPv4-mapped and 6to4 included) unless private addresses are allowed.
The check runs when an endpoint is created and again at every delivery, and the request
goes to the very address that passed (no second lookup a rebinding DNS could answer
differently). One POST: a short timeout, no redirects followed, the answer's body read up
to a cap and thrown away.
"""

from __future__ import annotations

import contextlib
import http.client
import ipaddress
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_URL = 2000
BODY_CAP = 64 * 1024  # bytes of a partner's answer we read at most


class EndpointRefused(ValueError):
    """The URL may not receive webhooks: its message says why."""


@dataclass(frozen=True)
class Target:
    """Where one request goes: the URL's parts and the address that passed the check."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


@dataclass(frozen=True)
class Answer:
    """What came of one POST: the status (None when none came) and an error, if any."""

    status: int | None
    error: str
    duration_ms: int

    @property
    def ok(self) -> bool:
        """Tell whether the partner accepted it (2xx)."""
        return self.status is not None and 200 <= self.status < 300


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        elif ip.sixtofour is not None:  # 6to4 (2002::/16) carries the IPv4 it reaches
            ip = ip.sixtofour
    return not (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global
    )


def parse(url: str) -> tuple[str, str, int, str]:
    """Return (scheme, host, port, path) of an http(s) URL, or refuse it."""
    if len(url) > MAX_URL:
        raise EndpointRefused(f"the URL is longer than {MAX_URL} characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EndpointRefused("the URL must be http:// or https:// with a host")
    if parts.username or parts.password:
        raise EndpointRefused("the URL must not carry a user name or password")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as error:
        raise EndpointRefused("the URL's port is not a number from 1 to 65535") from error
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(url: str, *, allow_private: bool) -> Target:
    """Check the URL and its host's addresses; return the target to connect to."""
    scheme, host, port, path = parse(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise EndpointRefused(f"the host {host} does not resolve") from error
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise EndpointRefused(f"the host {host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not _public(address):
                raise EndpointRefused(
                    f"{host} resolves to {address}, a loopback, private or reserved address"
                )
    return Target(scheme, host, port, path, addresses[0])


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed address, with SNI and the certificate checked for the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target
        self.raw: socket.socket | None = None  # kept past getresponse(), for the deadline

    def connect(self) -> None:
        """Connect to the checked address, then speak TLS for the URL's host."""
        raw = socket.create_connection((self.target.address, self.port), self.timeout)
        self.raw = raw
        context = ssl.create_default_context()
        self.sock = context.wrap_socket(raw, server_hostname=self.target.host)


class _PinnedHTTP(http.client.HTTPConnection):
    """Plain HTTP to a fixed address; the Host header still names the URL's host."""

    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self.target = target
        self.raw: socket.socket | None = None  # kept past getresponse(), for the deadline

    def connect(self) -> None:
        """Connect to the checked address."""
        self.sock = self.raw = socket.create_connection(
            (self.target.address, self.port), self.timeout
        )


def _cut(connection: _PinnedHTTP | _PinnedHTTPS, expired: threading.Event) -> None:
    """End a request that outlived its deadline (a partner dripping bytes slowly)."""
    expired.set()
    if connection.raw is not None:
        with contextlib.suppress(OSError):
            connection.raw.shutdown(socket.SHUT_RDWR)


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Answer:
    """POST the body to the URL once; never raise, never follow a redirect.

    `timeout` bounds each wait for the network, and twice it the whole request.
    """
    started = time.monotonic()

    def took() -> int:
        return int((time.monotonic() - started) * 1000)

    try:
        target = resolve(url, allow_private=allow_private)
    except EndpointRefused as error:
        return Answer(None, str(error), took())
    connection: _PinnedHTTP | _PinnedHTTPS = (
        _PinnedHTTPS(target, timeout) if target.scheme == "https" else _PinnedHTTP(target, timeout)
    )
    expired = threading.Event()
    deadline = threading.Timer(2 * timeout, _cut, (connection, expired))
    deadline.daemon = True
    deadline.start()
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(BODY_CAP)
        if expired.is_set():
            raise TimeoutError
        return Answer(response.status, "", took())
    except TimeoutError:
        return Answer(None, f"no answer within {timeout:g} s", took())
    except (OSError, http.client.HTTPException, ssl.SSLError) as error:
        if expired.is_set():
            return Answer(None, f"no answer within {2 * timeout:g} s", took())
        return Answer(None, f"{type(error).__name__}: {error}"[:500], took())
    finally:
        deadline.cancel()
        connection.close()
