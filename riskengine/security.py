"""API keys: created once, shown once, stored as argon2 hashes, checked in constant time, revocable."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError, InvalidHashError
from sqlalchemy import select
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session

from riskengine.store.audit import Actor, append_audit
from riskengine.store.db import StoreUnavailable
from riskengine.store.tables import ApiKey

__all__ = ["ROLES", "ApiKeys", "InvalidKey", "KeyExists", "create_key", "revoke_key"]

ROLES = ("single_window", "officer", "analyst", "management_authority", "admin")

# Lighter than argon2's interactive default: keys are 32 random bytes, so the hash guards a stolen
# table against nothing a slower hash would add, and every request pays the first verification.
_hasher = PasswordHasher(time_cost=2, memory_cost=19_456, parallelism=1)


class InvalidKey(Exception):
    """The presented key is unknown, malformed or revoked."""

    code = "INVALID_API_KEY"


class KeyExists(ValueError):
    """An API key with that name exists already."""

    code = "API_KEY_EXISTS"


def create_key(session: Session, name: str, role: str, *, actor: Actor) -> str:
    """Create a key for `name` with `role`; returns the secret, which is never stored in clear."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if session.execute(select(ApiKey.id).where(ApiKey.name == name)).first():
        raise KeyExists(f"an API key named {name!r} exists already")
    prefix = secrets.token_hex(6)
    secret = f"rk_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(name=name, role=role, prefix=prefix, key_hash=_hasher.hash(secret), created_at=dt.datetime.now(dt.timezone.utc)))
    session.flush()
    append_audit(session, actor=actor, action="apikey.create", entity="api_key", entity_id=name, after={"name": name, "role": role, "prefix": prefix})
    return secret


def revoke_key(session: Session, name: str, *, actor: Actor) -> None:
    row = session.execute(select(ApiKey).where(ApiKey.name == name)).scalar_one_or_none()
    if row is None:
        raise LookupError(f"no API key named {name!r}")
    row.revoked_at = dt.datetime.now(dt.timezone.utc)
    append_audit(session, actor=actor, action="apikey.revoke", entity="api_key", entity_id=name, before={"revoked": False}, after={"revoked": True})


@dataclass(frozen=True)
class _Verified:
    key_id: int
    actor: Actor


class ApiKeys:
    """Checks presented keys; a verified key is remembered by its SHA-256 so argon2 runs once per key.

    A remembered key still costs one primary-key read per request, so a revocation (made by any
    process: the CLI, another worker) takes effect on the next request. That read runs on a DBAPI
    connection of its own in autocommit, one statement in its own snapshot: it is on every request's
    path, and SQLAlchemy's session, transaction and execution machinery around it cost several times
    the query.
    """

    def __init__(self, database) -> None:
        self.database = database
        self._verified: dict[bytes, _Verified] = {}
        self._lock = threading.Lock()
        dialect = database.read_engine.dialect
        self._revoked_sql = f"SELECT revoked_at FROM {ApiKey.__tablename__} WHERE id = {'?' if dialect.paramstyle == 'qmark' else '%s'}"
        self._dbapi_error = dialect.loaded_dbapi.Error
        self._own = None  # the event loop's connection (`remembered`)
        self._own_lock = threading.Lock()

    def _still_valid(self, key_id: int) -> bool:
        """The revocation read on the loop's connection, connected first if need be (from a thread:
        connecting can take long), with one fresh try when the connection dropped."""
        with self._own_lock:
            for _ in range(2):
                try:
                    if self._own is None:
                        self._own = self._connect_own()
                    return self._read_valid(self._own, key_id)
                except (OperationalError, InterfaceError, self._dbapi_error) as exc:
                    self._close_own()
                    error = exc
        raise StoreUnavailable(f"database unavailable: {getattr(error, 'orig', error)}") from error

    def _read_valid(self, connection, key_id: int) -> bool:
        cursor = connection.cursor()
        try:
            cursor.execute(self._revoked_sql, (key_id,))
            row = cursor.fetchone()
        finally:
            cursor.close()
        return row is not None and row[0] is None

    def remembered(self, presented: str) -> Actor | None:
        """The actor of a key verified before, its revocation read at once; None when `authenticate`
        must answer instead, in a thread: a key not seen yet (argon2), or no usable connection.

        For the event loop: the read runs on a connection kept out of the pool for it alone, so the
        loop never waits for a pooled connection nor hops to a thread. Those hops, one per request, cost
        more than the read, and thirty-odd threads contending for the GIL stretched latency tails.
        The loop never connects (that can take long): `authenticate` does, in its thread, and says
        so if the database is down.
        """
        known = self._verified.get(hashlib.sha256(presented.encode()).digest())
        if known is None:
            return None
        with self._own_lock:
            if self._own is None:
                return None
            try:
                valid = self._read_valid(self._own, known.key_id)
            except (OperationalError, InterfaceError, self._dbapi_error):
                self._close_own()  # a server restarted or a connection dropped: the thread reconnects
                return None
        if not valid:
            raise InvalidKey("API key revoked")
        return known.actor

    def _connect_own(self):
        """A connection in autocommit: each read sees what is committed, and none leaves a transaction open.
        It never goes back to the pool (`_close_own` discards it), so the setting stays with it."""
        connection = self.database.read_engine.raw_connection()
        if not self.database.is_sqlite:  # ours are opened in autocommit already (isolation_level None)
            connection.dbapi_connection.autocommit = True
            cursor = connection.cursor()
            try:  # a table locked by a migration must not hold the event loop for long
                cursor.execute("SET statement_timeout = 2000")
            finally:
                cursor.close()
        return connection

    def _close_own(self) -> None:
        own, self._own = self._own, None
        if own is not None:
            try:
                own.invalidate()  # not back to the pool: it may be broken
            except Exception:  # noqa: BLE001 - closing a broken connection may fail too
                pass

    def close(self) -> None:
        with self._own_lock:
            self._close_own()

    def authenticate(self, presented: str) -> Actor:
        """The key's actor. A key verified before is known from memory (argon2 runs once per key);
        its revocation is read from the database every time, so a revocation takes effect at once."""
        parts = presented.split("_")
        if len(parts) < 3 or parts[0] != "rk":
            raise InvalidKey("malformed API key")
        digest = hashlib.sha256(presented.encode()).digest()
        known = self._verified.get(digest)
        if known is not None:
            if not self._still_valid(known.key_id):
                raise InvalidKey("API key revoked")
            return known.actor
        with self.database.read() as session:
            rows = session.execute(select(ApiKey.id, ApiKey.name, ApiKey.role, ApiKey.key_hash, ApiKey.revoked_at)
                                   .where(ApiKey.prefix == parts[1])).all()
        for row in rows:
            try:
                _hasher.verify(row.key_hash, presented)
            except (VerificationError, InvalidHashError):
                continue
            if row.revoked_at is not None:
                raise InvalidKey("API key revoked")
            with self._lock:
                self._verified[digest] = _Verified(row.id, Actor(row.name, row.role))
            # Connects the loop's connection, so the next request stays on the loop. Outside the read
            # above: a thread holding a pooled connection while it waits for another would starve the pool.
            self._still_valid(row.id)
            return Actor(row.name, row.role)
        raise InvalidKey("unknown API key")
