"""A signed-in desk user for the test client: the session cookie plus the page's CSRF token."""

from __future__ import annotations

import re
import struct
import zlib
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


def csrf_of(html: str) -> str:
    """Return the CSRF token a desk page carries in its <meta name="csrf-token">."""
    match = CSRF_META.search(html)
    assert match, "no csrf-token meta on the page"
    return match.group(1)


class Desk:
    """One browser's worth of desk: its own cookies, token and helpers for the JSON calls."""

    def __init__(self, app: Flask, *, base_url: str | None = None, **environ: Any) -> None:
        self.app = app
        self.client: FlaskClient = app.test_client()
        self.kw: dict[str, Any] = {"environ_base": environ} if environ else {}
        if base_url:
            self.kw["base_url"] = base_url
        self.token = ""

    def refresh_token(self, path: str = "/editor/login") -> str:
        """Load a desk page and keep its CSRF token."""
        response = self.client.get(path, **self.kw)
        self.token = csrf_of(response.text)
        return self.token

    def login(self, name: str, password: str | None = None, **extra: Any) -> TestResponse:
        """Sign in through the form and return the answer (a 303 when it worked)."""
        if not self.token:
            self.refresh_token()
        form = {
            "username": name,
            "password": f"pw-{name}" if password is None else password,
            "csrf_token": self.token,
        }
        response = self.client.post("/editor/login", data=form, **self.kw, **extra)
        if response.status_code == 303:
            self.refresh_token("/editor")  # the session (and so the token) is new
        return response

    def form(self, path: str, data: dict[str, Any], **extra: Any) -> TestResponse:
        """Post a desk form with the CSRF token."""
        return self.client.post(path, data={"csrf_token": self.token, **data}, **self.kw, **extra)

    def json(self, method: str, path: str, body: Any = None, **extra: Any) -> TestResponse:
        """Call a desk JSON endpoint with the token in X-CSRFToken."""
        headers = {"X-CSRFToken": self.token, **extra.pop("headers", {})}
        if body is not None:
            extra["json"] = body
        return self.client.open(path, method=method, headers=headers, **self.kw, **extra)

    def get(self, path: str, **extra: Any) -> TestResponse:
        """GET a desk page or endpoint."""
        return self.client.get(path, **self.kw, **extra)

    # -- the story's JSON endpoints ------------------------------------------------------

    def publish(self, slug: str, **fields: Any) -> TestResponse:
        """Publish a post through the desk."""
        body = {"body": "<p>Dari lapangan.</p>", **fields}
        return self.json("POST", f"/editor/api/stories/{slug}/posts", body)

    def edit(self, slug: str, post_id: str, **fields: Any) -> TestResponse:
        """Change a post through the desk."""
        return self.json("PATCH", f"/editor/api/stories/{slug}/posts/{post_id}", fields)

    def delete(self, slug: str, post_id: str) -> TestResponse:
        """Delete a post through the desk."""
        return self.json("DELETE", f"/editor/api/stories/{slug}/posts/{post_id}")


def png_bytes(width: int = 2, height: int = 2, rgb: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    """Return a real PNG (8-bit RGB) of one colour."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def jpeg_bytes() -> bytes:
    """Return a real baseline JPEG: one 8x8 grey block (DC only, minimal Huffman tables)."""

    def segment(marker: int, data: bytes) -> bytes:
        return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data

    quant = segment(0xDB, b"\x00" + b"\x01" * 64)
    frame = segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
    one_code = bytes([1] + [0] * 15)  # one code of length 1 ...
    dc = segment(0xC4, b"\x00" + one_code + b"\x00")  # ... for "DC difference 0"
    ac = segment(0xC4, b"\x10" + one_code + b"\x00")  # ... and for "end of block"
    scan = segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    return b"\xff\xd8" + quant + frame + dc + ac + scan + b"\x3f" + b"\xff\xd9"
