"""The Alembic migrations build exactly the schema the models describe."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, inspect

from liveblog.cli import alembic_config, upgrade_database


def assert_matches_models(url: str) -> None:
    upgrade_database(url)
    upgrade_database(url)  # safe to run again
    command.check(alembic_config(url))  # raises when autogenerate finds a difference
    engine = create_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
    finally:
        engine.dispose()
    assert {
        "stories",
        "posts",
        "post_revisions",
        "corrections",
        "events",
        "users",
        "api_tokens",
        "alembic_version",
    } <= tables


def test_sqlite_schema_matches_models(tmp_path: Path) -> None:
    assert_matches_models(f"sqlite:///{tmp_path / 'm.db'}")


@pytest.mark.postgres
def test_postgres_schema_matches_models(postgres_url: str) -> None:
    assert_matches_models(postgres_url)
