"""Installation steps shared by the CLI, the demo and tests: database, salt, reference data."""
from __future__ import annotations

import secrets
from typing import Any

from riskengine.config import Settings
from riskengine.store.db import Database
from riskengine.store.tables import EngineState

__all__ = ["initialise", "load_reference"]


def load_reference(settings: Settings):
    """The shipped reference data, extended by what `reference import` wrote, if anything."""
    from riskengine.reference import Reference

    data_dir = settings.resolve(settings.reference.data_dir) if settings.reference.data_dir else None
    imported = settings.resolve(settings.reference.imported_dir)
    return Reference.load(data_dir, imported if imported.exists() else None)


def initialise(settings: Settings) -> dict[str, Any]:
    """Create or upgrade the database, keep a random-selection salt, and check the reference data loads."""
    database = Database(settings.database.url)
    try:
        database.migrate()
        with database.session() as session:
            if session.get(EngineState, "random_salt") is None:
                session.add(EngineState(key="random_salt", value=secrets.token_hex(32)))
    finally:
        database.dispose()
    reference = load_reference(settings)
    return {
        "database": _redacted(settings.database.url),
        "schema": "up to date",
        "reference": getattr(reference, "summary", lambda: "loaded")(),
    }


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
