"""Audit trail operations for operators: verify the chain, export a period as signed-off JSON lines."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path
from typing import Any

from sqlalchemy import select

from riskengine.store.audit import ChainProblem, verify_chain
from riskengine.store.db import Database
from riskengine.store.tables import AuditHead, AuditRecord

__all__ = ["export_audit", "verify_audit"]


def verify_audit(database: Database, *, batch: int = 5000) -> tuple[int, ChainProblem | None]:
    """Walk the whole chain in sequence order; the count checked and the first problem, if any."""
    with database.read() as session:
        head = session.get(AuditHead, 1)
        records = session.execute(select(AuditRecord).order_by(AuditRecord.seq).execution_options(yield_per=batch)).scalars()
        return verify_chain(records, head)


def _record(record: AuditRecord) -> dict[str, Any]:
    return {
        "seq": record.seq, "at": record.at.isoformat(), "actor": record.actor, "role": record.role,
        "action": record.action, "entity": record.entity, "entity_id": record.entity_id,
        "before_hash": record.before_hash, "after_hash": record.after_hash, "detail": record.detail,
        "prev_hash": record.prev_hash, "hash": record.hash,
    }


def export_audit(database: Database, out: Path, *, start: dt.datetime, end: dt.datetime, signed_by: str) -> dict[str, Any]:
    """Write the records of [start, end) to `out` as JSON lines, closed by a sign-off line.

    The sign-off names who exported it, when, the record range, the chain hash of the last record
    and the SHA-256 of the lines above it, so the archive can be checked on its own.
    """
    digest = hashlib.sha256()
    count, first, last = 0, None, None
    with database.read() as session, out.open("w", encoding="utf-8") as handle:
        query = select(AuditRecord).where(AuditRecord.at >= start, AuditRecord.at < end).order_by(AuditRecord.seq)
        for record in session.execute(query.execution_options(yield_per=5000)).scalars():
            line = json.dumps(_record(record), sort_keys=True) + "\n"
            handle.write(line)
            digest.update(line.encode())
            count += 1
            first = first if first is not None else record.seq
            last = record
        signoff = {
            "signoff": True, "signed_by": signed_by, "exported_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "from": start.isoformat(), "to": end.isoformat(), "records": count, "first_seq": first,
            "last_seq": last.seq if last else None, "last_hash": last.hash if last else None,
            "sha256": digest.hexdigest(),
        }
        handle.write(json.dumps(signoff, sort_keys=True) + "\n")
    return signoff
