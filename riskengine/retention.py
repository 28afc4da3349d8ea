"""Retention: records past the retention period are archived, then removed from the live database.

Records are kept at least `retention.years` (5, the least allowed) after the permit's expiry. As of
the day of a purge, with the horizon that many years before it:

- a declaration goes, with every version, assessment, reason, reservation and outcome of it, when
  each version was lodged and received, assessed and (if inspected) its outcome recorded before the
  horizon, and every registered permit it cites expired before the horizon (a permit number that
  was never registered counts from lodging);
- a permit goes, with its lines, when it expired and last changed before the horizon and no
  declaration that stays cites it or holds a reservation on it.

Nothing is removed before it is in the archive: each chunk's records are written to the archive and
flushed to disk, then deleted in one transaction that also appends a `retention.purge` audit record.
The archive is JSON lines closed by a sign-off line (counts and the SHA-256 of the lines above), as
`audit export` writes. The audit log itself stays whole: its records hold hashes of documents, not
the documents, so `audit verify` holds after a purge.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, union
from sqlalchemy.orm import Session

from riskengine.store.audit import Actor, append_audit
from riskengine.store.db import Database
from riskengine.store.tables import (
    Assessment,
    DeclarationLineRow,
    DeclarationPermitRef,
    DeclarationRow,
    OutcomeRow,
    PermitLineRow,
    PermitRow,
    ReasonRow,
    Reservation,
)

__all__ = ["RetentionReport", "horizon_for", "purge"]


def horizon_for(as_of: dt.date, years: int) -> dt.date:
    """The day `years` before `as_of` (29 February falls back to the 28th)."""
    try:
        return as_of.replace(year=as_of.year - years)
    except ValueError:
        return as_of.replace(year=as_of.year - years, day=28)


@dataclass
class RetentionReport:
    as_of: dt.date
    years: int
    horizon: dt.date
    dry_run: bool
    declarations: int = 0  # declaration versions
    assessments: int = 0
    outcomes: int = 0
    permits: int = 0
    archive: Path | None = None
    sha256: str | None = None
    by_year: dict[int, int] = field(default_factory=dict)  # declaration versions by year lodged


def _kept_declaration_ids(horizon: dt.date):
    """declaration_id of every declaration that must stay (any version, activity or permit too recent)."""
    moment = dt.datetime.combine(horizon, dt.time(), tzinfo=dt.timezone.utc)
    return union(
        select(DeclarationRow.declaration_id).where((DeclarationRow.lodged_at >= moment) | (DeclarationRow.received_at >= moment)),
        select(Assessment.declaration_id).where(Assessment.assessed_at >= moment),
        select(Assessment.declaration_id).join(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
        .where(OutcomeRow.recorded_at >= moment),
        select(DeclarationPermitRef.declaration_id).join(
            PermitRow, and_(PermitRow.issuing_country == DeclarationPermitRef.issuing_country,
                            PermitRow.number == DeclarationPermitRef.number),
        ).where(PermitRow.valid_until >= horizon),
    )


def _expired_declarations(horizon: dt.date):
    return select(DeclarationRow.id).where(DeclarationRow.declaration_id.not_in(_kept_declaration_ids(horizon)))


def _expired_permits(horizon: dt.date, *, leaving=None):
    """Permits past the horizon that no declaration staying cites or holds a reservation on.

    `leaving`: a select of the declaration ids a dry run would remove (a purge removes them first)."""
    moment = dt.datetime.combine(horizon, dt.time(), tzinfo=dt.timezone.utc)
    cited = exists().where(DeclarationPermitRef.issuing_country == PermitRow.issuing_country,
                           DeclarationPermitRef.number == PermitRow.number)
    reserved = exists().where(Reservation.permit_line_id == PermitLineRow.id, PermitLineRow.permit_id == PermitRow.id)
    if leaving is not None:
        cited = cited.where(DeclarationPermitRef.declaration_pk.not_in(leaving))
        reserved = reserved.where(Reservation.assessment_id.not_in(select(Assessment.id).where(Assessment.declaration_pk.in_(leaving))))
    return select(PermitRow.id).where(
        PermitRow.valid_until < horizon, PermitRow.updated_at < moment,
        (PermitRow.status_changed_at.is_(None)) | (PermitRow.status_changed_at < moment),
        ~cited, ~reserved,
    )


class _Archive:
    """JSON lines written as they come, flushed to disk before the records they hold are deleted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        self.handle = self.partial.open("w", encoding="utf-8")
        self.digest = hashlib.sha256()

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        self.handle.write(line)
        self.digest.update(line.encode())

    def sync(self) -> None:
        self.handle.flush()
        os.fsync(self.handle.fileno())

    def close(self, signoff: dict[str, Any]) -> str:
        sha = self.digest.hexdigest()
        self.handle.write(json.dumps(signoff | {"signoff": True, "sha256": sha}, sort_keys=True, default=str) + "\n")
        self.sync()
        self.handle.close()
        os.replace(self.partial, self.path)
        return sha


def _declaration_records(session: Session, pks: list[int]) -> list[dict[str, Any]]:
    assessments = {a.declaration_pk: a for a in session.scalars(select(Assessment).where(Assessment.declaration_pk.in_(pks)))}
    ids = [a.id for a in assessments.values()]
    outcomes = {o.assessment_id: o for o in session.scalars(select(OutcomeRow).where(OutcomeRow.assessment_id.in_(ids)))}
    reservations: dict[str, list[dict[str, Any]]] = {}
    for r in session.scalars(select(Reservation).where(Reservation.assessment_id.in_(ids))):
        reservations.setdefault(r.assessment_id, []).append(
            {"permit_line_id": r.permit_line_id, "declaration_line": r.declaration_line, "quantity": r.quantity, "state": r.state})
    records = []
    for row in session.scalars(select(DeclarationRow).where(DeclarationRow.id.in_(pks)).order_by(DeclarationRow.id)):
        a = assessments.get(row.id)
        o = outcomes.get(a.id) if a else None
        records.append({
            "kind": "declaration", "declaration_id": row.declaration_id, "version": row.version, "body": row.body,
            "body_hash": row.body_hash, "lodged_at": row.lodged_at, "received_at": row.received_at,
            "assessment": None if a is None else {
                "assessment_id": a.id, "assessed_at": a.assessed_at, "actor": a.actor, "decision": a.response,
                "inputs": a.inputs, "reservations": reservations.get(a.id, []),
            },
            "outcome": None if o is None else {"body": o.body, "officer": o.officer, "recorded_at": o.recorded_at, "actor": o.actor},
        })
    return records


def _permit_records(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    records = []
    for p in session.scalars(select(PermitRow).where(PermitRow.id.in_(ids)).order_by(PermitRow.id)):
        records.append({
            "kind": "permit", "issuing_country": p.issuing_country, "number": p.number, "type": p.type,
            "issued_on": p.issued_on, "valid_until": p.valid_until, "status": p.status, "status_reason": p.status_reason,
            "document": p.document,
            "lines": [{"line": line.line, "taxon": line.taxon, "quantity": line.quantity, "unit": line.unit,
                       "quantity_used": line.quantity_used, "quantity_reserved": line.quantity_reserved} for line in p.lines],
        })
    return records


def _delete_declarations(session: Session, pks: list[int]) -> tuple[int, int]:
    ids = select(Assessment.id).where(Assessment.declaration_pk.in_(pks))
    outcomes = session.execute(delete(OutcomeRow).where(OutcomeRow.assessment_id.in_(ids))).rowcount
    session.execute(delete(Reservation).where(Reservation.assessment_id.in_(ids)))
    session.execute(delete(ReasonRow).where(ReasonRow.assessment_id.in_(ids)))
    assessments = session.execute(delete(Assessment).where(Assessment.declaration_pk.in_(pks))).rowcount
    session.execute(delete(DeclarationPermitRef).where(DeclarationPermitRef.declaration_pk.in_(pks)))
    session.execute(delete(DeclarationLineRow).where(DeclarationLineRow.declaration_pk.in_(pks)))
    session.execute(delete(DeclarationRow).where(DeclarationRow.id.in_(pks)))
    return assessments, outcomes


def purge(database: Database, *, years: int, as_of: dt.date, archive: Path | None, actor: Actor,
          dry_run: bool = False, chunk: int = 1000, progress: Callable[[int], None] | None = None) -> RetentionReport:
    """Archive, then remove, every declaration and permit past the retention period as of `as_of`.

    With `dry_run` nothing is written: the report counts what a purge would remove. `progress` is
    called with the number of records done after each chunk.
    """
    if years < 5:
        raise ValueError(f"retention.years is {years}: records are kept at least 5 years")
    horizon = horizon_for(as_of, years)
    report = RetentionReport(as_of=as_of, years=years, horizon=horizon, dry_run=dry_run)
    if dry_run:
        with database.read() as session:
            expired = _expired_declarations(horizon).subquery()
            rows = session.execute(select(DeclarationRow.lodged_at).where(DeclarationRow.id.in_(select(expired.c.id)))).scalars()
            for lodged in rows:
                report.by_year[lodged.year] = report.by_year.get(lodged.year, 0) + 1
            report.declarations = sum(report.by_year.values())
            pks = select(expired.c.id)
            report.assessments = session.scalar(select(func.count()).select_from(Assessment).where(Assessment.declaration_pk.in_(pks)))
            report.outcomes = session.scalar(select(func.count()).select_from(OutcomeRow).join(Assessment, OutcomeRow.assessment_id == Assessment.id)
                                             .where(Assessment.declaration_pk.in_(pks)))
            # permits freed by the purge too: not cited by any declaration that would stay
            report.permits = session.scalar(select(func.count()).select_from(_expired_permits(horizon, leaving=pks).subquery()))
        return report
    if archive is None:
        raise ValueError("a purge needs an archive file: nothing is removed before it is archived")
    out = _Archive(Path(archive))
    try:
        for kind in ("declaration", "permit"):
            while True:
                with database.session() as session:
                    query = _expired_declarations(horizon) if kind == "declaration" else _expired_permits(horizon)
                    ids = list(session.scalars(query.order_by(query.selected_columns[0]).limit(chunk)))
                    if not ids:
                        break
                    records = _declaration_records(session, ids) if kind == "declaration" else _permit_records(session, ids)
                    for record in records:
                        out.write(record)
                    out.sync()  # on disk before the rows are gone
                    if kind == "declaration":
                        assessments, outcomes = _delete_declarations(session, ids)
                        report.declarations += len(ids)
                        report.assessments += assessments
                        report.outcomes += outcomes
                        for record in records:
                            year = record["lodged_at"].year
                            report.by_year[year] = report.by_year.get(year, 0) + 1
                        detail = {"declarations": len(ids), "assessments": assessments, "outcomes": outcomes}
                    else:
                        session.execute(delete(PermitLineRow).where(PermitLineRow.permit_id.in_(ids)))
                        session.execute(delete(PermitRow).where(PermitRow.id.in_(ids)))
                        report.permits += len(ids)
                        detail = {"permits": len(ids)}
                    append_audit(session, actor=actor, action="retention.purge", entity=kind, entity_id=out.path.name,
                                 detail=detail | {"as_of": as_of.isoformat(), "years": years, "horizon": horizon.isoformat(),
                                                  "archive": str(out.path)})
                if progress:
                    progress(len(ids))
    except BaseException:
        out.handle.close()  # the partial archive stays beside the target: it holds what was removed
        raise
    report.archive = out.path
    report.sha256 = out.close({
        "as_of": as_of.isoformat(), "years": years, "horizon": horizon.isoformat(), "signed_by": actor.name,
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(), "declarations": report.declarations,
        "assessments": report.assessments, "outcomes": report.outcomes, "permits": report.permits,
    })
    return report
