"""Image uploads for figures: checked by content, stored by hash, served with safe headers."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from conftest import Newsroom
from desk_client import Desk, jpeg_bytes, png_bytes
from flask import Flask
from werkzeug.test import TestResponse

from liveblog.sanitize import clean_html
from liveblog.uploads import MAX_UPLOAD_BYTES, sniff

UPLOAD = "/editor/api/uploads"


GIF = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"  # noqa: E501
# Only the container header of a WebP: the type check reads no further.
WEBP = b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00\x2f\x00\x00\x00\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"  # noqa: E501


def upload(
    desk: Desk, data: bytes, filename: str = "photo.png", mimetype: str = "image/png"
) -> TestResponse:
    return desk.client.post(
        UPLOAD,
        data={"file": (io.BytesIO(data), filename, mimetype)},
        headers={"X-CSRFToken": desk.token},
        content_type="multipart/form-data",
    )


@pytest.fixture
def desk(app: Flask, newsroom: Newsroom) -> Desk:
    signed_in = Desk(app)
    assert signed_in.login("bagus").status_code == 303
    return signed_in


def stored(app: Flask) -> list[str]:
    folder = Path(app.instance_path) / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_the_constructed_images_are_what_they_claim() -> None:
    assert sniff(png_bytes()) == "png"
    assert sniff(jpeg_bytes()) == "jpg"
    assert sniff(GIF) == "gif"
    assert sniff(WEBP) == "webp"


@pytest.mark.parametrize(
    ("data", "extension"),
    [(png_bytes(), "png"), (jpeg_bytes(), "jpg"), (GIF, "gif"), (WEBP, "webp")],
)
def test_real_images_are_stored_by_content_hash(
    app: Flask, desk: Desk, data: bytes, extension: str
) -> None:
    # The name the browser sends says nothing: the bytes decide.
    response = upload(desk, data, filename="whatever.bin", mimetype="application/octet-stream")
    assert response.status_code == 201, response.text
    name = f"{hashlib.sha256(data).hexdigest()}.{extension}"
    assert response.get_json() == {"name": name, "url": f"http://liveblog.test/media/{name}"}
    assert stored(app) == [name]
    assert (Path(app.instance_path) / "uploads" / name).read_bytes() == data


def test_same_content_same_name_stored_once(app: Flask, desk: Desk) -> None:
    first = upload(desk, png_bytes(), "a.png").get_json()
    second = upload(desk, png_bytes(), "b.png").get_json()
    other = upload(desk, png_bytes(rgb=(0, 0, 255)), "a.png").get_json()
    assert first == second
    assert other["name"] != first["name"]
    assert stored(app) == sorted([first["name"], other["name"]])


@pytest.mark.parametrize(
    "data",
    [
        b"<!doctype html><script>alert(document.cookie)</script>",
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
        b"just some text pretending to be a picture",
        b"\x89PNG\r\n\x1a\n<html><body>not really a png</body></html>",
        b"GIF8",
        b"",
        b"%PDF-1.7\n",
    ],
)
def test_files_that_are_not_images_are_refused(app: Flask, desk: Desk, data: bytes) -> None:
    response = upload(desk, data, filename="innocent.png", mimetype="image/png")
    assert response.status_code == 415
    error = response.get_json()["error"]
    assert error["code"] == "unsupported_media_type"
    assert "JPEG" in error["message"]
    assert stored(app) == []


def test_oversize_images_are_refused(app: Flask, desk: Desk) -> None:
    just_over = png_bytes() + b"\x00" * (MAX_UPLOAD_BYTES + 1 - len(png_bytes()))
    response = upload(desk, just_over)
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "too_large"
    far_over = upload(desk, just_over + b"\x00" * MAX_UPLOAD_BYTES)
    assert far_over.status_code == 413
    assert far_over.is_json
    at_limit = png_bytes() + b"\x00" * (MAX_UPLOAD_BYTES - len(png_bytes()))
    assert upload(desk, at_limit).status_code == 201
    assert len(stored(app)) == 1


def test_upload_needs_a_file_a_user_and_the_token(app: Flask, desk: Desk) -> None:
    missing = desk.client.post(UPLOAD, headers={"X-CSRFToken": desk.token}, data={})
    assert missing.status_code == 400
    assert missing.get_json()["error"]["code"] == "no_file"
    anonymous = Desk(app)
    anonymous.refresh_token()
    assert upload(anonymous, png_bytes()).status_code == 401
    desk.token = "forged"
    assert upload(desk, png_bytes()).status_code == 400
    assert stored(app) == []


def test_media_is_served_with_safe_headers(app: Flask, desk: Desk) -> None:
    data = jpeg_bytes()
    name = upload(desk, data, "x.jpg", "image/jpeg").get_json()["name"]
    reader = app.test_client()  # media is public: readers load it in posts
    response = reader.get(f"/media/{name}")
    assert response.status_code == 200
    assert response.data == data
    assert response.headers["Content-Type"] == "image/jpeg"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"] == "inline"
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    csp = response.headers["Content-Security-Policy"]
    assert "sandbox" in csp
    assert "default-src 'none'" in csp
    etag = response.headers["ETag"]
    assert reader.get(f"/media/{name}", headers={"If-None-Match": etag}).status_code == 304
    png = upload(desk, png_bytes()).get_json()["name"]
    assert reader.get(f"/media/{png}").headers["Content-Type"] == "image/png"


@pytest.mark.parametrize(
    "name",
    [
        "nothing.png",
        "../secret_key",
        "..%2Fsecret_key",
        "0" * 64 + ".png",
        "0" * 64 + ".html",
        "A" * 64 + ".png",
        "secret_key",
    ],
)
def test_unknown_or_malformed_media_names_are_404(app: Flask, name: str) -> None:
    assert app.test_client().get(f"/media/{name}").status_code == 404


def test_the_figure_the_desk_inserts_survives_the_sanitizer(app: Flask, desk: Desk) -> None:
    url = upload(desk, png_bytes()).get_json()["url"]
    figure = (
        f'<figure><img src="{url}" alt="Banjir di Kampung Melayu">'
        "<figcaption>Air setinggi lutut <small>Foto: Bagus</small></figcaption></figure>"
    )
    assert clean_html(figure) == figure
