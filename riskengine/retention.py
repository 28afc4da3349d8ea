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

from sqlalchemy import and_, delete, func, select, union
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

__all__ = ["RetentionReport", "horizon_for", "purge", "verify_archive"]


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


def _moment(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc)


def _kept(session: Session, declaration_ids: set[str], horizon: dt.date) -> set[str]:
    """Which of `declaration_ids` must stay: a version, an assessment or an outcome on or after the
    horizon, or a cited permit valid on or after it. Asked per chunk, through indexed columns, so a
    purge costs what it removes, not what stays."""
    ordered, kept = sorted(declaration_ids), set()
    for start in range(0, len(ordered), 1000):  # each id is bound four times: stay far below the drivers' limits
        kept |= _kept_among(session, ordered[start:start + 1000], horizon)
    return kept


def _kept_among(session: Session, ids: list[str], horizon: dt.date) -> set[str]:
    moment = _moment(horizon)
    versions = select(DeclarationRow.id).where(DeclarationRow.declaration_id.in_(ids))
    return set(session.scalars(union(
        select(DeclarationRow.declaration_id).where(DeclarationRow.declaration_id.in_(ids),
                                                    (DeclarationRow.lodged_at >= moment) | (DeclarationRow.received_at >= moment)),
        select(Assessment.declaration_id).where(Assessment.declaration_id.in_(ids), Assessment.assessed_at >= moment),
        select(Assessment.declaration_id).join(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
        .where(Assessment.declaration_id.in_(ids), OutcomeRow.recorded_at >= moment),
        select(DeclarationPermitRef.declaration_id).join(
            PermitRow, and_(PermitRow.issuing_country == DeclarationPermitRef.issuing_country,
                            PermitRow.number == DeclarationPermitRef.number),
        ).where(DeclarationPermitRef.declaration_pk.in_(versions), PermitRow.valid_until >= horizon),
    )))


def _expired_declarations(session: Session, horizon: dt.date, after: int, chunk: int) -> tuple[int | None, list[tuple[int, dt.datetime]]]:
    """The next chunk of declaration versions lodged and received before the horizon, by id after
    `after`: the last id looked at, and (id, lodged_at) of those that may go."""
    moment = _moment(horizon)
    rows = session.execute(
        select(DeclarationRow.id, DeclarationRow.declaration_id, DeclarationRow.lodged_at)
        .where(DeclarationRow.id > after, DeclarationRow.lodged_at < moment, DeclarationRow.received_at < moment)
        .order_by(DeclarationRow.id).limit(chunk)
    ).all()
    if not rows:
        return None, []
    kept = _kept(session, {r.declaration_id for r in rows}, horizon)
    return rows[-1].id, [(r.id, r.lodged_at) for r in rows if r.declaration_id not in kept]


def _expired_permits(session: Session, horizon: dt.date, after: int, chunk: int, *, lock: bool) -> tuple[int | None, list[int]]:
    """The next chunk of permits that expired and last changed before the horizon, by id after
    `after`: the last id looked at, and those that no declaration staying cites or reserves.

    With `lock` (a purge, not a dry run) the permits and then their lines are locked, in id order,
    as a replacement of the permit and a reservation on its lines lock them: a permit replaced
    meanwhile no longer matches (PostgreSQL re-reads a locked row), and a reservation committed
    meanwhile is seen below, so neither is deleted from under the writer."""
    moment = _moment(horizon)
    query = select(PermitRow.id).where(
        PermitRow.id > after, PermitRow.valid_until < horizon, PermitRow.updated_at < moment,
        (PermitRow.status_changed_at.is_(None)) | (PermitRow.status_changed_at < moment),
    ).order_by(PermitRow.id).limit(chunk)
    ids = list(session.scalars(query.with_for_update() if lock else query))
    if not ids:
        return None, []
    if lock:
        session.execute(select(PermitLineRow.id).where(PermitLineRow.permit_id.in_(ids)).order_by(PermitLineRow.id).with_for_update())
    citing = session.execute(union(
        select(PermitRow.id, DeclarationPermitRef.declaration_id).join(
            DeclarationPermitRef, and_(PermitRow.issuing_country == DeclarationPermitRef.issuing_country,
                                       PermitRow.number == DeclarationPermitRef.number),
        ).where(PermitRow.id.in_(ids)),
        select(PermitLineRow.permit_id, Assessment.declaration_id)
        .join(Reservation, Reservation.permit_line_id == PermitLineRow.id)
        .join(Assessment, Assessment.id == Reservation.assessment_id)
        .where(PermitLineRow.permit_id.in_(ids)),
    )).all()
    kept = _kept(session, {d for _, d in citing}, horizon)
    staying = {permit for permit, d in citing if d in kept}
    return ids[-1], [i for i in ids if i not in staying]


class _Archive:
    """JSON lines written as they come, flushed to disk before the records they hold are deleted."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.partial = path.with_name(path.name + ".partial")
        if path.exists():
            raise FileExistsError(f"{path} exists: an archive is never overwritten")
        try:  # a partial archive is what an interrupted purge removed: never written over either
            # traders' names and declarations: readable by the operator who runs the purge only
            self.handle = os.fdopen(os.open(self.partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w", encoding="utf-8")
        except FileExistsError:
            raise FileExistsError(f"{self.partial} exists: an interrupted purge's archive of what it removed; "
                                  "keep it, and give another --archive") from None
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
          dry_run: bool = False, chunk: int = 2000, progress: Callable[[int], None] | None = None) -> RetentionReport:
    """Archive, then remove, every declaration and permit past the retention period as of `as_of`.

    With `dry_run` nothing is written: the report counts what a purge would remove. `progress` is
    called with the number of records done after each chunk.
    """
    if years < 5:
        raise ValueError(f"retention.years is {years}: records are kept at least 5 years")
    horizon = horizon_for(as_of, years)
    report = RetentionReport(as_of=as_of, years=years, horizon=horizon, dry_run=dry_run)
    if not dry_run and archive is None:
        raise ValueError("a purge needs an archive file: nothing is removed before it is archived")
    out = None if dry_run else _Archive(Path(archive))
    try:
        after = 0
        while after is not None:  # declarations first: a permit goes only once nothing that stays cites it
            with database.read() if dry_run else database.session() as session:
                after, found = _expired_declarations(session, horizon, after, chunk)
                pks = [pk for pk, _ in found]
                for _, lodged in found:
                    report.by_year[lodged.year] = report.by_year.get(lodged.year, 0) + 1
                if not pks:
                    continue
                if dry_run:
                    report.declarations += len(pks)
                    report.assessments += session.scalar(select(func.count()).select_from(Assessment).where(Assessment.declaration_pk.in_(pks)))
                    report.outcomes += session.scalar(select(func.count()).select_from(OutcomeRow).join(Assessment, OutcomeRow.assessment_id == Assessment.id)
                                                      .where(Assessment.declaration_pk.in_(pks)))
                else:
                    for record in _declaration_records(session, pks):
                        out.write(record)
                    out.sync()  # on disk before the rows are gone
                    assessments, outcomes = _delete_declarations(session, pks)
                    report.declarations += len(pks)
                    report.assessments += assessments
                    report.outcomes += outcomes
                    append_audit(session, actor=actor, action="retention.purge", entity="declaration", entity_id=out.path.name,
                                 detail={"declarations": len(pks), "assessments": assessments, "outcomes": outcomes,
                                         "as_of": as_of.isoformat(), "years": years, "horizon": horizon.isoformat(), "archive": str(out.path)})
            if progress:
                progress(len(pks))
        after = 0
        while after is not None:
            with database.read() if dry_run else database.session() as session:
                after, ids = _expired_permits(session, horizon, after, chunk, lock=not dry_run)
                if dry_run:
                    # a dry run removed nothing: permits cited only by declarations that would go count too
                    report.permits += len(ids)
                    continue
                if not ids:
                    continue
                for record in _permit_records(session, ids):
                    out.write(record)
                out.sync()
                session.execute(delete(PermitLineRow).where(PermitLineRow.permit_id.in_(ids)))
                session.execute(delete(PermitRow).where(PermitRow.id.in_(ids)))
                report.permits += len(ids)
                append_audit(session, actor=actor, action="retention.purge", entity="permit", entity_id=out.path.name,
                             detail={"permits": len(ids), "as_of": as_of.isoformat(), "years": years,
                                     "horizon": horizon.isoformat(), "archive": str(out.path)})
            if progress:
                progress(len(ids))
    except BaseException:
        if out is not None:
            out.handle.close()  # the partial archive stays beside the target: it holds what was removed
        raise
    if dry_run:
        return report
    report.archive = out.path
    report.sha256 = out.close({
        "as_of": as_of.isoformat(), "years": years, "horizon": horizon.isoformat(), "signed_by": actor.name,
        "written_at": dt.datetime.now(dt.timezone.utc).isoformat(), "declarations": report.declarations,
        "assessments": report.assessments, "outcomes": report.outcomes, "permits": report.permits,
    })
    return report


def verify_archive(path: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """Check a purge archive on its own: its sign-off, the SHA-256 of the lines above it, and the
    counts the sign-off states. The sign-off (None if there is none) and every problem found."""
    digest, counts, signoff, problems = hashlib.sha256(), {"declaration": 0, "permit": 0}, None, []
    with Path(path).open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                record = json.loads(raw)
            except ValueError:
                problems.append(f"line {number}: not JSON")
                digest.update(raw)
                continue
            if signoff is not None:
                problems.append(f"line {number}: a record after the sign-off")
            if record.get("signoff"):
                signoff = record
                continue
            digest.update(raw)
            counts[record.get("kind")] = counts.get(record.get("kind"), 0) + 1
    if signoff is None:
        return None, problems + ["no sign-off line: an interrupted purge's partial archive, or a cut copy"]
    if signoff.get("sha256") != digest.hexdigest():
        problems.append(f"the lines do not hash to the sign-off's sha256 {str(signoff.get('sha256'))[:16]}...: altered")
    for kind, key in (("declaration", "declarations"), ("permit", "permits")):
        if signoff.get(key) != counts.get(kind, 0):
            problems.append(f"the sign-off counts {signoff.get(key)} {key}, the archive holds {counts.get(kind, 0)}")
    return signoff, problems
