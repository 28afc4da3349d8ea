"""The permit registry in the database: permits, their lines, and atomic quantity reservations.

Reservations are conditional UPDATEs (used + reserved + wanted <= quantity), so no interleaving of
workers can over-commit a permit line: the database, not process memory, is the arbiter.
"""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, bindparam, select, update
from sqlalchemy.orm import Session, selectinload

from riskengine.schemas import Permit, PermitStatusChange
from riskengine.store.audit import Actor, append_audit
from riskengine.store.tables import PermitLineRow, PermitRow, Reservation

__all__ = [
    "PermitNotFound",
    "RegisteredLine",
    "RegisteredPermit",
    "change_status",
    "derive_valid_until",
    "get_permit_document",
    "load_cited",
    "origin_keys",
    "load_registered",
    "registered_permit",
    "put_permit",
    "reserve",
    "settle_reservations",
    "reserve_many",
    "use_reserved",
]


class PermitNotFound(LookupError):
    """No permit with that issuing country and number is registered."""

    code = "PERMIT_NOT_FOUND"


@dataclass(frozen=True)
class RegisteredLine:
    id: int
    line: int
    taxon: str
    appendix: str | None
    term: str | None
    purpose: str | None
    source: str | None
    quantity: float
    unit: str | None
    country_of_origin: str | None
    origin_permit: str | None
    reserved: float
    used: float

    @property
    def remaining(self) -> float:
        return self.quantity - self.reserved - self.used


@dataclass(frozen=True)
class RegisteredPermit:
    """A permit as the registry holds it at the moment of reading, with quantities taken so far."""

    number: str
    issuing_country: str
    type: str
    issued_on: dt.date
    valid_until: dt.date
    status: str
    exporter_name: str | None
    exporter_country: str | None
    importer_name: str | None
    importer_country: str | None
    lines: tuple[RegisteredLine, ...]

    @property
    def key(self) -> tuple[str, str]:
        return (self.issuing_country, self.number)


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def derive_valid_until(permit_type: str, issued_on: dt.date, *, export_months: int = 6, import_months: int = 12) -> dt.date:
    """Last valid day when a permit does not state it (Res. Conf. 12.3): 6 months export, 12 import."""
    months = export_months if permit_type in ("export", "re-export", "other") else import_months
    # Valid through the day before the same date `months` later: issued 1 June, last day 30 November.
    return _add_months(issued_on, months) - dt.timedelta(days=1)


def put_permit(
    session: Session, permit: Permit, *, actor: Actor, export_months: int = 6, import_months: int = 12
) -> bool:
    """Create or replace a permit; quantities already reserved or used on kept lines carry over. True if new."""
    now = dt.datetime.now(dt.timezone.utc)
    row = session.execute(
        select(PermitRow)
        .where(PermitRow.issuing_country == permit.issuing_country, PermitRow.number == permit.number)
        .options(selectinload(PermitRow.lines))
        .with_for_update()
    ).scalar_one_or_none()
    document = permit.model_dump(mode="json", exclude={"lines": {"__all__": {"quantity_reserved", "quantity_used"}}})
    valid_until = permit.valid_until or derive_valid_until(
        permit.type, permit.issued_on, export_months=export_months, import_months=import_months
    )
    before = row.document if row is not None else None
    created = row is None
    if row is None:
        row = PermitRow(issuing_country=permit.issuing_country, number=permit.number, created_at=now)
        session.add(row)
    row.type = permit.type
    row.issued_on = permit.issued_on
    row.valid_until = valid_until
    row.valid_until_declared = permit.valid_until is not None
    if created or permit.status != row.status:
        row.status = permit.status
        row.status_changed_at = now
    row.document = document
    row.updated_at = now
    # Lines are updated in place: reservations point at them, and what was taken stays taken.
    existing = {line.line: line for line in row.lines}
    wanted = {line.line for line in permit.lines}
    for number, line in existing.items():
        if number not in wanted:
            if line.quantity_reserved or line.quantity_used:
                raise ValueError(f"permit {permit.number} line {number} has quantities reserved or used and cannot be removed")
            row.lines.remove(line)
    for line in permit.lines:
        target = existing.get(line.line)
        if target is None:
            target = PermitLineRow(line=line.line, quantity_reserved=0.0, quantity_used=0.0)
            row.lines.append(target)
        for name in ("taxon", "appendix", "term", "purpose", "source", "quantity", "unit", "country_of_origin", "origin_permit"):
            setattr(target, name, getattr(line, name))
    session.flush()
    append_audit(
        session,
        actor=actor,
        action="permit.create" if created else "permit.replace",
        entity="permit",
        entity_id=f"{permit.issuing_country}:{permit.number}",
        before=before,
        after=document,
    )
    return created


def _find(session: Session, issuing_country: str, number: str, *, lock: bool = False) -> PermitRow:
    query = (
        select(PermitRow)
        .where(PermitRow.issuing_country == issuing_country.upper(), PermitRow.number == number)
        .options(selectinload(PermitRow.lines))
    )
    if lock:
        query = query.with_for_update()
    row = session.execute(query).scalar_one_or_none()
    if row is None:
        raise PermitNotFound(f"no permit {number} issued by {issuing_country.upper()}")
    return row


def get_permit_document(session: Session, issuing_country: str, number: str) -> Permit:
    """The permit as registered, with each line's quantity reserved and used."""
    row = _find(session, issuing_country, number)
    document = dict(row.document)
    document["status"] = row.status
    document["valid_until"] = row.valid_until.isoformat()
    by_line = {line.line: line for line in row.lines}
    document["lines"] = [
        line | {"quantity_reserved": by_line[line["line"]].quantity_reserved, "quantity_used": by_line[line["line"]].quantity_used}
        for line in document["lines"]
    ]
    return Permit.model_validate(document)


def change_status(
    session: Session, issuing_country: str, number: str, change: PermitStatusChange, *, actor: Actor
) -> Permit:
    """Set a permit's status (cancelled, lost, stolen, or valid again); effective for the next assessment."""
    row = _find(session, issuing_country, number, lock=True)
    before = {"status": row.status, "reason": row.status_reason}
    row.status = change.status
    row.status_reason = change.reason
    row.status_changed_at = dt.datetime.now(dt.timezone.utc)
    row.document = dict(row.document) | {"status": change.status}
    session.flush()
    append_audit(
        session,
        actor=actor,
        action="permit.status",
        entity="permit",
        entity_id=f"{row.issuing_country}:{row.number}",
        before=before,
        after={"status": change.status, "reason": change.reason},
        detail={"status": change.status, "reason": change.reason},
    )
    return get_permit_document(session, issuing_country, number)


_P = PermitRow.__table__.c
_L = PermitLineRow.__table__.c
# One statement for permits and their lines (outer join: a permit without lines is still registered),
# built once; the ORM with selectinload took two queries and its identity map on every assessment.
# Filtering on both columns lets the (issuing_country, number) unique index find the rows.
_REGISTERED = (
    select(_P.id, _P.issuing_country, _P.number, _P.type, _P.issued_on, _P.valid_until, _P.status, _P.document,
           _L.id.label("line_id"), _L.line, _L.taxon, _L.appendix, _L.term, _L.purpose, _L.source, _L.quantity, _L.unit,
           _L.country_of_origin, _L.origin_permit, _L.quantity_reserved, _L.quantity_used)
    .select_from(PermitRow.__table__.outerjoin(PermitLineRow.__table__, _L.permit_id == _P.id))
    .where(_P.issuing_country.in_(bindparam("countries", expanding=True)), _P.number.in_(bindparam("numbers", expanding=True)))
    .order_by(_P.id, _L.line)
)


KEYS_PER_QUERY = 1_000  # keys per statement: bounds the IN lists of a batch's thousands of cited permits


def registered_permit(*, number: str, issuing_country: str, type: str, issued_on, valid_until, status: str,
                      document: dict, lines) -> RegisteredPermit:
    """A registry row and its lines as the permit checks read them (the parties from the stored document)."""
    exporter = document.get("exporter") or {}
    importer = document.get("importer") or {}
    return RegisteredPermit(number=number, issuing_country=issuing_country, type=type, issued_on=issued_on,
                            valid_until=valid_until, status=status, exporter_name=exporter.get("name"),
                            exporter_country=exporter.get("country"), importer_name=importer.get("name"),
                            importer_country=importer.get("country"), lines=tuple(lines))


def load_registered(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RegisteredPermit]:
    """The registered permits among `keys` (issuing country, number); absent keys are simply missing."""
    keys = set(keys)
    ordered = sorted(keys)
    heads: dict[tuple[str, str], object] = {}
    lines: dict[tuple[str, str], list[RegisteredLine]] = {}
    for lo in range(0, len(ordered), KEYS_PER_QUERY):
        part = ordered[lo:lo + KEYS_PER_QUERY]
        rows = session.connection().execute(
            _REGISTERED, {"countries": sorted({country for country, _ in part}), "numbers": sorted({number for _, number in part})}
        )
        for row in rows:
            key = (row.issuing_country, row.number)
            if key not in keys:
                continue
            if key not in heads:
                heads[key] = row
                lines[key] = []
            if row.line_id is not None:
                lines[key].append(RegisteredLine(
                    id=row.line_id,
                    line=row.line,
                    taxon=row.taxon,
                    appendix=row.appendix,
                    term=row.term,
                    purpose=row.purpose,
                    source=row.source,
                    quantity=row.quantity,
                    unit=row.unit,
                    country_of_origin=row.country_of_origin,
                    origin_permit=row.origin_permit,
                    reserved=row.quantity_reserved,
                    used=row.quantity_used,
                ))
    return {key: registered_permit(number=row.number, issuing_country=row.issuing_country, type=row.type,
                                   issued_on=row.issued_on, valid_until=row.valid_until, status=row.status,
                                   document=row.document, lines=lines[key])
            for key, row in heads.items()}


def origin_keys(permits: Iterable[RegisteredPermit]) -> set[tuple[str, str]]:
    """The (country, number) of the origin permits that the re-export certificates among `permits` name."""
    return {
        (line.country_of_origin, line.origin_permit)
        for permit in permits
        if permit.type == "re-export"
        for line in permit.lines
        if line.origin_permit and line.country_of_origin
    }


def load_cited(session: Session, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], RegisteredPermit]:
    """The cited permits that exist, and the origin permits their re-export certificates name (one level)."""
    registry = load_registered(session, keys)
    registry.update(load_registered(session, origin_keys(registry.values()) - set(registry)))
    return registry


_RESERVE = (
    update(PermitLineRow.__table__)
    .where(_L.id == bindparam("line_id"),
           _L.quantity_used + _L.quantity_reserved + bindparam("wanted", type_=Float) <= _L.quantity * (1 + bindparam("tolerance", type_=Float)))
    .values(quantity_reserved=_L.quantity_reserved + bindparam("wanted", type_=Float))
)
_LOCK_LINES = (
    select(_L.id, _L.quantity, _L.quantity_reserved, _L.quantity_used)
    .where(_L.id.in_(bindparam("ids", expanding=True)))
    .order_by(_L.id)  # every worker locks lines in the same order: no deadlock between two batches
    .with_for_update()
)
_SET_RESERVED = update(PermitLineRow.__table__).where(_L.id == bindparam("line_id")).values(quantity_reserved=bindparam("reserved"))
_USE_RESERVED = (
    update(PermitLineRow.__table__)
    .where(_L.id == bindparam("line_id"))
    .values(quantity_reserved=_L.quantity_reserved - bindparam("wanted", type_=Float), quantity_used=_L.quantity_used + bindparam("wanted", type_=Float))
)


def reserve(session: Session, *, permit_line_id: int, quantity: float, tolerance: float = 0.0) -> bool:
    """Atomically reserve `quantity` on a permit line; False (and nothing changed) if it would exceed it."""
    result = session.connection().execute(_RESERVE, {"line_id": permit_line_id, "wanted": quantity, "tolerance": tolerance})
    return result.rowcount == 1


def reserve_many(session: Session, claims: list[tuple[int, float]], *, tolerance: float = 0.0) -> list[bool]:
    """Reserve each (permit line id, quantity) in order, as `reserve` one after the other would.

    The lines are read and locked in one statement (FOR UPDATE; SQLite's writer already holds the
    whole database), each claim is tested with the condition `reserve`'s UPDATE had, in the same
    float operations, against what the earlier claims left, and what was granted is added in one
    statement per line: two round trips for a batch of declarations instead of one per claim.
    """
    if len(claims) < 2:  # one conditional UPDATE is one statement too
        return [reserve(session, permit_line_id=line_id, quantity=wanted, tolerance=tolerance) for line_id, wanted in claims]
    lines = {row.id: [row.quantity, row.quantity_reserved, row.quantity_used]
             for row in session.connection().execute(_LOCK_LINES, {"ids": sorted({line_id for line_id, _ in claims})})}
    granted, touched = [], set()
    for line_id, wanted in claims:
        line = lines.get(line_id)
        ok = line is not None and line[2] + line[1] + wanted <= line[0] * (1 + tolerance)
        if ok:
            line[1] = line[1] + wanted
            touched.add(line_id)
        granted.append(ok)
    if touched:
        session.connection().execute(_SET_RESERVED, [
            {"line_id": line_id, "reserved": lines[line_id][1]} for line_id in sorted(touched)])
    return granted


def use_reserved(session: Session, claims: list[dict[str, Any]]) -> None:
    """Move quantities of permit lines from reserved to used (released declarations): one statement.

    Each claim is ``{"line_id": permit line id, "wanted": quantity}``.
    """
    session.connection().execute(_USE_RESERVED, claims)


def settle_reservations(
    session: Session, assessment_id: str, *, use: bool, endorsed: dict[tuple[int, str], float] | None = None
) -> list[Reservation]:
    """Turn an assessment's reservations into used quantities (use=True) or free them (use=False).

    `endorsed` maps (declaration line, permit number) to the quantity an officer endorsed, in the
    permit line's unit; a line without an endorsement uses the reserved (declared) quantity.
    """
    line = PermitLineRow.__table__.c
    reservations = session.execute(
        select(Reservation).where(Reservation.assessment_id == assessment_id, Reservation.state == "reserved")
    ).scalars().all()
    numbers = {}
    if endorsed:
        rows = session.execute(
            select(PermitLineRow.id, PermitRow.number)
            .join(PermitRow, PermitRow.id == PermitLineRow.permit_id)
            .where(PermitLineRow.id.in_([r.permit_line_id for r in reservations]))
        ).all()
        numbers = dict(rows)
    for reservation in reservations:
        used = 0.0
        if use:
            used = reservation.quantity
            key = (reservation.declaration_line, numbers.get(reservation.permit_line_id, ""))
            if endorsed and key in endorsed:
                used = min(endorsed[key], reservation.quantity)
        session.execute(
            update(PermitLineRow)
            .where(line.id == reservation.permit_line_id)
            .values(
                quantity_reserved=line.quantity_reserved - reservation.quantity,
                quantity_used=line.quantity_used + used,
            )
            .execution_options(synchronize_session=False)
        )
        reservation.state = "used" if use else "freed"
        reservation.quantity = used if use else reservation.quantity
    session.flush()
    return list(reservations)
