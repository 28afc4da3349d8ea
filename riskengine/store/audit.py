"""The audit trail: every write appends a record chained to the previous one by SHA-256.

Altering, removing or reordering any record breaks the chain at that record, which
`verify_chain` finds and names.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from riskengine.store.tables import AuditHead, AuditRecord

__all__ = ["Actor", "AuditEntry", "GENESIS", "append_audit", "append_audit_many", "content_hash", "verify_chain", "ChainProblem"]

GENESIS = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who did it: the API key's name and role, or the operating-system user for the CLI."""

    name: str
    role: str


def content_hash(document: Any) -> str | None:
    """SHA-256 of a JSON document with sorted keys; None for no document."""
    if document is None:
        return None
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _record_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + text).encode()).hexdigest()


_HASHED = ("seq", "at", "actor", "role", "action", "entity", "entity_id", "before_hash", "after_hash", "detail")


def _fields(record: AuditRecord) -> dict[str, Any]:
    return _hashed_fields({name: getattr(record, name) for name in _HASHED})


def _hashed_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The fields a record's hash covers, from its column values (a stored row or one about to be inserted)."""
    at = record["at"] if record["at"].tzinfo else record["at"].replace(tzinfo=dt.timezone.utc)
    return {
        "seq": record["seq"],
        "at": at.astimezone(dt.timezone.utc).isoformat(),
        "actor": record["actor"],
        "role": record["role"],
        "action": record["action"],
        "entity": record["entity"],
        "entity_id": record["entity_id"],
        "before_hash": record["before_hash"],
        "after_hash": record["after_hash"],
        "detail": record["detail"],
    }


_HEAD = AuditHead.__table__
_RECORDS = AuditRecord.__table__
_LOCK_HEAD = select(_HEAD.c.seq, _HEAD.c.hash).where(_HEAD.c.id == 1).with_for_update()
_MOVE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))


def append_audit(
    session: Session,
    *,
    actor: Actor,
    action: str,
    entity: str,
    entity_id: str,
    before: Any = None,
    after: Any = None,
    detail: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> dict[str, Any]:
    """Append one record in the caller's transaction; the head row lock keeps the chain linear."""
    return append_audit_many(session, [AuditEntry(actor, action, entity, entity_id, before, after, detail, at)])[0]


@dataclass(frozen=True)
class AuditEntry:
    """What one audit record says, before it is chained."""

    actor: Actor
    action: str
    entity: str
    entity_id: str
    before: Any = None
    after: Any = None
    detail: dict[str, Any] | None = None
    at: dt.datetime | None = None


def append_audit_many(session: Session, entries: list[AuditEntry]) -> list[dict[str, Any]]:
    """Append records in order in the caller's transaction: one head lock, one insert, one head move.

    Written with Core statements: it runs in every assessment's write transaction.
    """
    db = session.connection()
    head = db.execute(_LOCK_HEAD).first()
    if head is None:
        db.execute(_HEAD.insert(), {"id": 1, "seq": 0, "hash": GENESIS})
        seq, prev_hash = 0, GENESIS
    else:
        seq, prev_hash = head.seq, head.hash
    records = []
    for entry in entries:
        seq += 1
        record = {
            "seq": seq,
            "at": entry.at or dt.datetime.now(dt.timezone.utc),
            "actor": entry.actor.name,
            "role": entry.actor.role,
            "action": entry.action,
            "entity": entry.entity,
            "entity_id": entry.entity_id,
            "before_hash": content_hash(entry.before),
            "after_hash": content_hash(entry.after),
            "detail": entry.detail or {},
        }
        record["prev_hash"] = prev_hash
        record["hash"] = prev_hash = _record_hash(prev_hash, _hashed_fields(record))  # no ORM object: runs per assessment
        records.append(record)
    if records:
        db.execute(_RECORDS.insert(), records)
        db.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev_hash})
    return records


@dataclass(frozen=True)
class ChainProblem:
    """The first record at which the chain does not hold."""

    seq: int
    message: str


def verify_chain(records: Iterable[AuditRecord], head: AuditHead | None = None) -> tuple[int, ChainProblem | None]:
    """Walk records in sequence order; return how many were checked and the first problem, if any."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for record in records:
        if record.seq != expected_seq:
            return count, ChainProblem(record.seq, f"record {expected_seq} is missing (next found is {record.seq})")
        if record.prev_hash != prev:
            return count, ChainProblem(record.seq, f"record {record.seq} does not follow record {record.seq - 1}")
        if _record_hash(record.prev_hash, _fields(record)) != record.hash:
            return count, ChainProblem(record.seq, f"record {record.seq} was altered (its hash does not match)")
        prev = record.hash
        expected_seq += 1
        count += 1
    if head is not None and (head.seq != count or head.hash != prev):
        return count, ChainProblem(count + 1, f"records after {count} were removed (head is at {head.seq})")
    return count, None
