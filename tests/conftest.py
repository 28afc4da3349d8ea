"""Fixtures shared by the whole suite."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("RISKENGINE_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    """The checkout's root (where rules/, data/ and config.yaml live)."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real reference data beside the checkout (../shared/data); tests that need it skip without it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data not found at {SHARED_DATA} (set RISKENGINE_SHARED_DATA)")
    return SHARED_DATA


POSTGRES_URL = os.environ.get("RISKENGINE_TEST_POSTGRES_URL")


def _fresh_postgres_database() -> tuple[str, callable]:
    """A new, empty PostgreSQL database for one test, and the function that drops it."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin_url = make_url(POSTGRES_URL)
    name = f"rk_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request, tmp_path) -> str:
    """An empty database of each kind: a SQLite file, and PostgreSQL when RISKENGINE_TEST_POSTGRES_URL is set."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'riskengine.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need RISKENGINE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    url, drop = _fresh_postgres_database()
    yield url
    drop()


@pytest.fixture
def database(database_url):
    """A migrated, empty `Database` of each kind (see `database_url`), disposed of afterwards."""
    from riskengine.store.db import Database

    db = Database(database_url)
    db.migrate()
    yield db
    db.dispose()


@pytest.fixture
def postgres_url() -> str:
    """An empty PostgreSQL database; skips with a message when none is configured."""
    if not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need RISKENGINE_TEST_POSTGRES_URL (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test)")
    url, drop = _fresh_postgres_database()
    yield url
    drop()
