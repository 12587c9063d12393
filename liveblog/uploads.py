"""Images for figures: checked by their content, stored by hash, served with safe headers.

The type is decided by the file's first bytes (JPEG, PNG, WebP, GIF), never by its name
or the browser's Content-Type. A stored file is named by the SHA-256 of its bytes, so the
same image uploaded twice is stored once, and a name never changes meaning: it can be
cached forever.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path

from flask import Blueprint, Response, abort, current_app, send_from_directory

from .errors import N_, LiveblogError, TooLarge

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
}
NAME_RE = re.compile(r"^[0-9a-f]{64}\.(?:jpg|png|webp|gif)$")
ONE_YEAR = 365 * 24 * 3600

bp = Blueprint("media", __name__)


class UnsupportedImage(LiveblogError):
    """The upload is not one of the image types the desk accepts."""

    status = 415
    code = "unsupported_media_type"


def sniff(data: bytes) -> str | None:
    """Return the file extension for the image type the bytes really hold, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return "png"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP" and data[12:15] == b"VP8":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def upload_dir() -> Path:
    """Return the folder uploads are stored in (under the instance folder)."""
    return Path(current_app.instance_path) / "uploads"


def store(folder: Path, data: bytes) -> str:
    """Check and store an image; return its content-hash name (sha256 + extension)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise TooLarge(
            N_("The image is larger than %(limit)d MB."), limit=MAX_UPLOAD_BYTES // 2**20
        )
    extension = sniff(data)
    if extension is None:
        raise UnsupportedImage(N_("Only JPEG, PNG, WebP and GIF images can be uploaded."))
    name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    target = folder / name
    if not target.exists():
        folder.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=folder, prefix=".upload-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)  # atomic: readers never see half a file
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    return name


@bp.get("/media/<name>")
def media(name: str) -> Response:
    """Serve a stored image so that no browser will run or sniff it as anything else."""
    if not NAME_RE.match(name):
        abort(404)
    response = send_from_directory(
        upload_dir(),
        name,
        mimetype=CONTENT_TYPES[name.rsplit(".", 1)[1]],
        max_age=ONE_YEAR,
        conditional=True,
    )
    response.headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"
    response.headers["Content-Disposition"] = "inline"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
