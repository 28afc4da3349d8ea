"""A remembered API key is checked for revocation on the event loop's own connection: a revocation made
elsewhere takes effect at once, and a dropped connection is replaced without failing the request."""
from __future__ import annotations

import pytest
from sqlalchemy import text

from riskengine.security import ApiKeys, InvalidKey, create_key, revoke_key
from riskengine.store.audit import Actor
from riskengine.store.db import Database

ADMIN = Actor("admin", "admin")


def _key(database) -> tuple[str, ApiKeys]:
    with database.session() as session:
        return create_key(session, "sw", "single_window", actor=ADMIN), ApiKeys(database)


def test_a_key_is_remembered_only_once_verified_and_refused_once_revoked_elsewhere(database, database_url):
    secret, keys = _key(database)
    try:
        assert keys.remembered(secret) is None  # never verified: argon2 first, in `authenticate`
        assert keys.authenticate(secret) == Actor("sw", "single_window")
        assert keys.remembered(secret) == Actor("sw", "single_window")
        other = Database(database_url)  # another process, as `riskengine apikey revoke`
        with other.session() as session:
            revoke_key(session, "sw", actor=ADMIN)
        other.dispose()
        with pytest.raises(InvalidKey, match="revoked"):
            keys.remembered(secret)
    finally:
        keys.close()


def test_a_dropped_loop_connection_is_replaced(database, database_url):
    secret, keys = _key(database)
    try:
        keys.authenticate(secret)
        assert keys.remembered(secret) == Actor("sw", "single_window")
        first = keys._own
        if database_url.startswith("postgresql"):  # the server ends the session, as on a restart
            pid = first.dbapi_connection.info.backend_pid
            with database.engine.connect() as admin:
                admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        else:
            first.dbapi_connection.close()
        # the loop never reconnects: it hands the request to `authenticate` (a thread), which does
        assert keys.remembered(secret) is None and keys._own is None
        assert keys.authenticate(secret) == Actor("sw", "single_window")
        assert keys._own is not None and keys._own is not first
        assert keys.remembered(secret) == Actor("sw", "single_window")
    finally:
        keys.close()
    assert keys._own is None
