"""Configuration: defaults under instance/, the instance file, then the environment."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from liveblog import create_app


def test_defaults_live_under_the_instance_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("LIVEBLOG_DATABASE_URL", "LIVEBLOG_BROKER_URL", "LIVEBLOG_SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_PATH": str(instance)})
    assert app.config["LIVEBLOG_DATABASE_URL"] == f"sqlite:///{instance / 'liveblog.db'}"
    assert app.config["LIVEBLOG_BROKER_URL"] == ""
    key_file = instance / "secret_key"
    assert app.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(app.config["SECRET_KEY"]) >= 64
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = create_app({"INSTANCE_PATH": str(instance)})
    assert again.config["SECRET_KEY"] == app.config["SECRET_KEY"]  # kept, not regenerated


def test_environment_beats_the_instance_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "liveblog.cfg").write_text(
        'LIVEBLOG_SECRET_KEY = "from-file"\nLIVEBLOG_FEED_PAGE_SIZE = 7\n'
    )
    monkeypatch.delenv("LIVEBLOG_SECRET_KEY", raising=False)
    monkeypatch.setenv("LIVEBLOG_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    app = create_app({"INSTANCE_PATH": str(instance)})
    assert app.config["SECRET_KEY"] == "from-file"
    assert app.config["LIVEBLOG_FEED_PAGE_SIZE"] == 7
    assert app.config["MAX_CONTENT_LENGTH"] == 256 * 1024  # Flask's own defaults stay out
    assert app.config["LIVEBLOG_DATABASE_URL"] == f"sqlite:///{tmp_path / 'env.db'}"
    monkeypatch.setenv("LIVEBLOG_SECRET_KEY", "from-env")
    assert create_app({"INSTANCE_PATH": str(instance)}).config["SECRET_KEY"] == "from-env"


def test_an_unknown_broker_scheme_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LIVEBLOG_BROKER_URL"):
        create_app({"INSTANCE_PATH": str(tmp_path), "LIVEBLOG_BROKER_URL": "amqp://x"})
