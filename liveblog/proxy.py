"""The front of `liveblog serve`: the live process answers readers and passes the rest on.

The live process accepts every connection on the public port. It serves WebSocket readers
(`/stories/<slug>/live`), `/healthz` and `/metrics` itself (so the metrics' loopback check
sees the real peer and its proxy headers) and hands every other request to the app
processes over a private Unix socket, so no render, sanitizing, password check, upload or
slow client ever runs on the process that fans events out. The request body is read here
first when it is small (slow clients cost a greenlet, not an app thread), and a response
up to `BUFFER_BYTES` is read in one go (slow downloads don't hold an app thread either).

The client's address: the peer's, or the last `X-Forwarded-For` entry when the peer is a
configured trusted proxy (`LIVEBLOG_TRUSTED_PROXIES`). It replaces whatever
`X-Forwarded-For` the client sent before the request goes on, so per-address limits and
loopback checks in the app see the real client. A plain WSGI layer: no Flask imports;
refusals are rendered by the app's own error handlers.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import logging
import re
import socket
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from werkzeug.exceptions import (
    BadGateway,
    BadRequest,
    GatewayTimeout,
    HTTPException,
    RequestEntityTooLarge,
    RequestTimeout,
)

log = logging.getLogger(__name__)

LIVE_PATH = re.compile(r"^/stories/[^/]+/live$")
HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "trailers",
    "transfer-encoding",
    "upgrade",
}
#: Tells the app side the client's request came through some proxy (it named a hop).
PROXIED_HEADER = "x-liveblog-proxied"
FORGEABLE = {
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "x-real-ip",
    "forwarded",
    PROXIED_HEADER,
}
DROPPED_FROM_APP = HOP_BY_HOP | {"date", "server"}
MAX_BODY = 16 * 2**20
BUFFER_BYTES = 2**20
APP_TIMEOUT = 60.0
BODY_SECONDS = 60.0

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(spec: str) -> list[Network]:
    """Parse a comma-separated list of addresses or networks."""
    return [
        ipaddress.ip_network(part.strip(), strict=False)
        for part in spec.split(",")
        if part.strip()
    ]


def client_address(environ: dict[str, Any], trusted: list[Network]) -> str:
    """Return the client's address: the peer's, or the one a trusted proxy forwarded."""
    peer = environ.get("REMOTE_ADDR") or ""
    forwarded = environ.get("HTTP_X_FORWARDED_FOR", "")
    if not trusted or not forwarded:
        return str(peer)
    hops = [peer] + [h.strip() for h in reversed(forwarded.split(",")) if h.strip()]
    for hop in hops:
        try:
            if not any(ipaddress.ip_address(hop) in net for net in trusted):
                return hop
        except ValueError:
            return str(peer)  # garbage in the chain: believe only the peer
    return str(peer)


class UnixConnection(http.client.HTTPConnection):
    """HTTP/1.1 to the app processes over their Unix socket."""

    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        """Connect to the Unix socket instead of a TCP port."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.path)
        self.sock = sock


class Body:
    """A request body: read here first when small, streamed on to the app when large.

    Up to `BUFFER_BYTES` is read before the app is contacted, so a slow client costs no
    app thread for ordinary requests; a larger body (an upload) goes on as it arrives.
    Either way the client must deliver it within `BODY_SECONDS`.
    """

    def __init__(self, stream: Any, length: int, data: bytes | None = None) -> None:
        self.stream = stream
        self.length = length
        self.deadline = time.monotonic() + BODY_SECONDS
        self.left = length if data is None else 0
        self.data = data
        if data is None and length <= BUFFER_BYTES:
            self.data = b"".join(self._read())

    def chunks(self) -> Iterator[bytes]:
        """Yield the body in pieces."""
        if self.data is not None:
            if self.data:
                yield self.data
            return
        yield from self._read()

    def drain(self) -> None:
        """Read and drop what the app did not want, so the client sees our answer."""
        for _chunk in self._read():
            pass

    def _read(self) -> Iterator[bytes]:
        while self.left > 0:
            chunk: bytes = self.stream.read(min(self.left, 65536))
            if not chunk:
                raise BadRequest()
            if time.monotonic() > self.deadline:
                raise RequestTimeout()
            self.left -= len(chunk)
            yield chunk


#: Writes that carry the news (the API and the desk's JSON calls): they get app processes of
#: their own, so a flood of page views or sign-ins never queues a reporter's update.
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WRITE_PREFIXES = ("/api/v1/", "/editor/api/")


def is_write(environ: dict[str, Any]) -> bool:
    """Tell whether a request is a write of the API or the desk (not a sign-in or preview)."""
    method = environ.get("REQUEST_METHOD", "")
    return method in WRITE_METHODS and environ.get("PATH_INFO", "").startswith(WRITE_PREFIXES)


class Front:
    """Route readers and /healthz to the live app, everything else to the app processes."""

    def __init__(
        self, live_app: Any, app_socket: str, trusted: str = "", write_socket: str = ""
    ) -> None:
        self.live_app = live_app
        self.app_socket = app_socket
        self.write_socket = write_socket or app_socket
        self.trusted = trusted_networks(trusted)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Serve one request."""
        environ["REMOTE_ADDR"] = client_address(environ, self.trusted)
        path = environ.get("PATH_INFO", "")
        if path == "/healthz" and not self.app_reachable():
            return _app_unreachable(start_response)
        if path in ("/healthz", "/metrics") or LIVE_PATH.match(path):
            result: Iterable[bytes] = self.live_app(environ, start_response)
            return result
        try:
            return self.forward(environ, start_response)
        except HTTPException as error:
            return self._refuse(environ, start_response, error)

    def app_reachable(self) -> bool:
        """Tell whether the app processes accept connections (without asking them anything)."""
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(1.0)
        try:
            sock.connect(self.app_socket)
            return True
        except OSError:
            return False
        finally:
            sock.close()

    def forward(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        """Pass the request to the app processes and their answer back."""
        body = self._read_body(environ)
        target = self.write_socket if is_write(environ) else self.app_socket
        conn = UnixConnection(target, APP_TIMEOUT)
        try:
            conn.putrequest(
                environ["REQUEST_METHOD"],
                _target(environ),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in _request_headers(environ):
                conn.putheader(name, value)
            conn.putheader("Content-Length", str(body.length))
            conn.putheader("Connection", "close")
            conn.endheaders()
            try:
                for chunk in body.chunks():
                    conn.send(chunk)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the app answered before reading it all (a refusal): read the answer
            response = conn.getresponse()
            body.drain()
        except HTTPException:
            conn.close()
            raise
        except TimeoutError:
            conn.close()
            raise GatewayTimeout() from None
        except OSError as exc:
            conn.close()
            log.warning("app processes unreachable: %s", exc)
            raise BadGateway() from None
        headers = [(k, v) for k, v in response.getheaders() if k.lower() not in DROPPED_FROM_APP]
        if response.length is not None and response.length <= BUFFER_BYTES:
            try:
                data = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                raise BadGateway() from None
            conn.close()
            start_response(f"{response.status} {response.reason}", headers)
            return [data]
        start_response(f"{response.status} {response.reason}", headers)
        return _stream(conn, response)

    @staticmethod
    def _read_body(environ: dict[str, Any]) -> Body:
        length = environ.get("CONTENT_LENGTH")
        if length:
            if int(length) > MAX_BODY:
                raise RequestEntityTooLarge()
            return Body(environ["wsgi.input"], int(length))
        if environ.get("HTTP_TRANSFER_ENCODING", "").lower() != "chunked":
            return Body(environ["wsgi.input"], 0)
        data = environ["wsgi.input"].read(BUFFER_BYTES + 1)
        if len(data) > BUFFER_BYTES:
            raise RequestEntityTooLarge()
        return Body(None, len(data), bytes(data))

    def _refuse(
        self, environ: dict[str, Any], start_response: Callable[..., Any], error: HTTPException
    ) -> Iterable[bytes]:
        """Answer with the app's own error page or JSON error, in the reader's language."""
        flask_app = getattr(self.live_app, "flask_app", self.live_app)
        with flask_app.request_context(environ):
            response = flask_app.handle_http_exception(error)
            response.headers["Cache-Control"] = "no-store"
            result: Iterable[bytes] = response(environ, start_response)
            return result


def _app_unreachable(start_response: Callable[..., Any]) -> Iterable[bytes]:
    body = json.dumps({"status": "unavailable", "problems": {"app": "unreachable"}}).encode()
    start_response(
        "503 SERVICE UNAVAILABLE",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Cache-Control", "no-store"),
        ],
    )
    return [body]


def _target(environ: dict[str, Any]) -> str:
    raw = environ.get("RAW_URI")
    if raw and raw.startswith("/"):
        return str(raw)
    query = environ.get("QUERY_STRING")
    return str(environ.get("PATH_INFO") or "/") + (f"?{query}" if query else "")


def _request_headers(environ: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Yield the headers to pass on: the client's, minus hop-by-hop and forgeable ones."""
    proxied = False
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").lower()
            proxied = proxied or name in FORGEABLE
            if name in HOP_BY_HOP or name in FORGEABLE or name == "content-length":
                continue
            yield name, value
    if environ.get("CONTENT_TYPE"):
        yield "content-type", environ["CONTENT_TYPE"]
    yield "x-forwarded-for", environ.get("REMOTE_ADDR") or ""
    yield "x-forwarded-proto", environ.get("wsgi.url_scheme", "http")
    if proxied:  # e.g. an untrusted nginx on loopback: its client is not "this host"
        yield PROXIED_HEADER, "1"


def _stream(
    conn: http.client.HTTPConnection, response: http.client.HTTPResponse
) -> Iterator[bytes]:
    """Pass a large or open-ended answer on in pieces."""
    try:
        while chunk := response.read(65536):
            yield chunk
    finally:
        conn.close()


def behind_front(app: WSGIApp) -> WSGIApp:
    """Wrap an app process's WSGI app: the front's X-Forwarded-For is the client's address.

    Only the front can reach the app processes' socket (a private directory), so what it
    forwards is believed as is.
    """

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        environ["liveblog.proxied"] = bool(environ.pop("HTTP_X_LIVEBLOG_PROXIED", None))
        forwarded = environ.get("HTTP_X_FORWARDED_FOR")
        if forwarded:
            environ["REMOTE_ADDR"] = forwarded
        proto = environ.get("HTTP_X_FORWARDED_PROTO")
        if proto in ("http", "https"):
            environ["wsgi.url_scheme"] = proto
        return app(environ, start_response)

    return wrapped
