"""Where absolute URLs point: never at a host a request merely claims (contract section 6).

A web-layer seam (Flask). Before any view runs, this binds the request's URL builder, so
every `url_for(..., _external=True)` (canonical, JSON-LD, feeds, API `url`, uploads) uses:

1. `LIVEBLOG_PUBLIC_URL` when it is set (scheme, host and an optional path prefix);
2. else the request's own host, if it is configured: `LIVEBLOG_ALLOWED_HOSTS`, Flask's
   `SERVER_NAME`, or loopback (`localhost`, `127.0.0.1`, `[::1]`, on any port);
3. else `SERVER_NAME` if set, else `http://127.0.0.1:8000`: links that point nowhere
   useful, but never at an attacker's host, so a forged `Host` cannot poison a shared
   cache or a feed reader. Set `LIVEBLOG_PUBLIC_URL` in production.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Flask, current_app, request
from flask.globals import request_ctx

LOOPBACK = ("localhost", "127.0.0.1", "[::1]")
FALLBACK = "http://127.0.0.1:8000"


@dataclass(frozen=True)
class PublicBase:
    """The scheme, host[:port] and path prefix absolute URLs start with."""

    scheme: str
    netloc: str
    prefix: str = ""


def parse_public_url(value: str) -> PublicBase:
    """Read `LIVEBLOG_PUBLIC_URL`; refuse anything but an http(s) URL with a host."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"LIVEBLOG_PUBLIC_URL must be http(s)://host[:port][/path]: {value!r}")
    if parts.query or parts.fragment or parts.username:
        raise ValueError(f"LIVEBLOG_PUBLIC_URL must not carry a query or user: {value!r}")
    return PublicBase(parts.scheme, parts.netloc.lower(), parts.path.rstrip("/"))


def parse_hosts(value: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Read `LIVEBLOG_ALLOWED_HOSTS`: names separated by commas or spaces."""
    items = value.replace(",", " ").split() if isinstance(value, str) else list(value or ())
    return tuple(item.strip().lower() for item in items if item.strip())


def _split(host: str) -> tuple[str, str]:
    """Split "name:port" (or "[v6]:port") into name and port."""
    if host.startswith("["):
        name, _, rest = host.partition("]")
        return name + "]", rest.removeprefix(":")
    name, _, port = host.partition(":")
    return name, port


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    """Tell whether a request's Host is configured.

    An entry without a port allows any port; ".example.org" allows that domain and every
    name under it.
    """
    name, port = _split(host.strip().lower())
    if not name:
        return False
    for entry in allowed:
        entry_name, entry_port = _split(entry)
        if entry_port and entry_port != port:
            continue
        if entry_name == name or (
            entry_name.startswith(".") and ("." + name).endswith(entry_name)
        ):
            return True
    return False


@dataclass(frozen=True)
class HostPolicy:
    """The configured public base, the allowed hosts and the fallback."""

    public: PublicBase | None
    allowed: tuple[str, ...]
    fallback: PublicBase

    def base_for(self, scheme: str, host: str) -> PublicBase:
        """Return the base absolute URLs must use for a request to `host`."""
        if self.public is not None:
            return self.public
        if host_allowed(host, self.allowed):
            return PublicBase(scheme, host.lower())
        return self.fallback


def init_app(app: Flask) -> None:
    """Read the configuration and bind every request's URL builder first thing."""
    public_url = str(app.config.get("LIVEBLOG_PUBLIC_URL") or "")
    server_name = str(app.config.get("SERVER_NAME") or "")
    scheme = str(app.config.get("PREFERRED_URL_SCHEME") or "http")
    fallback = parse_public_url(f"{scheme}://{server_name}" if server_name else FALLBACK)
    allowed = LOOPBACK + parse_hosts(app.config.get("LIVEBLOG_ALLOWED_HOSTS"))
    app.extensions["liveblog_hosts"] = HostPolicy(
        public=parse_public_url(public_url) if public_url else None,
        allowed=allowed + ((server_name.lower(),) if server_name else ()),
        fallback=fallback,
    )
    app.before_request_funcs.setdefault(None, []).insert(0, _bind_urls)


def _bind_urls() -> None:
    """Point this request's external URLs at the configured base."""
    policy: HostPolicy = current_app.extensions["liveblog_hosts"]
    base = policy.base_for(request.scheme, request.host)
    adapter = request_ctx.url_adapter
    if adapter is None:
        return
    adapter.server_name = base.netloc
    adapter.url_scheme = base.scheme
    if base.prefix:
        adapter.script_name = base.prefix + "/"
