"""History aggregates that rules read (citations of a permit, a trader's recent activity, routes)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import DateTime, Integer, bindparam, insert, text
from sqlalchemy.orm import Session

from riskengine.schemas import Declaration, declaration_hash
from riskengine.store.tables import DeclarationLineRow, DeclarationPermitRef, DeclarationRow

__all__ = ["aggregates", "permit_token", "line_rows", "permit_ref_rows", "import_history"]


def permit_token(issuing_country: str, number: str) -> str:
    return f"{issuing_country}:{number}"


def line_rows(declaration: Declaration, declaration_pk: int) -> list[dict[str, Any]]:
    """The `declaration_lines` rows of a declaration."""
    return [
        {
            "declaration_pk": declaration_pk,
            "declaration_id": declaration.declaration_id,
            "line": item.line,
            "lodged_at": declaration.lodged_at,
            "importer_id": declaration.importer.id or declaration.importer.name,
            "exporter_id": declaration.exporter.id or declaration.exporter.name,
            "country_of_export": declaration.country_of_export,
            "country_of_destination": declaration.country_of_destination,
            "hs4": item.hs_code[:4],
            "permits": ";".join(permit_token(p.issuing_country, p.number) for p in item.permits),
        }
        for item in declaration.items
    ]


def permit_ref_rows(declaration: Declaration, declaration_pk: int) -> list[dict[str, Any]]:
    """The `declaration_permit_refs` rows of a declaration: one per cited permit and line."""
    return [
        {"declaration_pk": declaration_pk, "declaration_id": declaration.declaration_id, "line": item.line,
         "issuing_country": ref.issuing_country, "number": ref.number, "lodged_at": declaration.lodged_at}
        for item in declaration.items
        for ref in item.permits
    ]


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


# Plain SQL, built once: the aggregates run for every assessment, and composing ORM expressions
# per call cost more than the queries themselves. Only declarations lodged before this one count.
_TRADERS = text(
    """
    SELECT
      (SELECT count(DISTINCT declaration_id) FROM declaration_lines
        WHERE exporter_id = :exporter AND lodged_at >= :week_ago AND lodged_at < :at AND declaration_id <> :id) AS exporter_7d,
      (SELECT count(DISTINCT declaration_id) FROM declaration_lines
        WHERE importer_id = :importer AND lodged_at >= :week_ago AND lodged_at < :at AND declaration_id <> :id) AS importer_7d,
      (SELECT min(lodged_at) FROM declaration_lines
        WHERE importer_id = :importer AND lodged_at < :at AND declaration_id <> :id) AS importer_first,
      (SELECT count(*) FROM (SELECT 1 FROM declaration_lines
        WHERE exporter_id = :exporter AND lodged_at < :at AND declaration_id <> :id LIMIT 1) AS seen) AS exporter_seen
    """
).bindparams(
    bindparam("at", type_=DateTime(timezone=True)), bindparam("week_ago", type_=DateTime(timezone=True))
).columns(exporter_7d=Integer, importer_7d=Integer, importer_first=DateTime(timezone=True), exporter_seen=Integer)

_ROUTES = text(
    """
    SELECT DISTINCT hs4 FROM declaration_lines
    WHERE country_of_export = :exporting AND country_of_destination = :destination AND hs4 IN :hs4s
      AND lodged_at < :at AND declaration_id <> :id
    """
).bindparams(bindparam("hs4s", expanding=True), bindparam("at", type_=DateTime(timezone=True)))

_CITATIONS = text(
    """
    SELECT DISTINCT issuing_country, number, declaration_id FROM declaration_permit_refs
    WHERE number IN :numbers AND declaration_id <> :id
    """
).bindparams(bindparam("numbers", expanding=True))


def aggregates(session: Session, declaration: Declaration) -> dict[int, dict[str, Any]]:
    """Per line: the `history.*` facts, from declarations lodged before this one (never this one)."""
    at = declaration.lodged_at
    importer = declaration.importer.id or declaration.importer.name
    exporter = declaration.exporter.id or declaration.exporter.name
    traders = session.execute(
        _TRADERS, {"exporter": exporter, "importer": importer, "week_ago": at - dt.timedelta(days=7), "at": at,
                   "id": declaration.declaration_id}
    ).one()
    first_seen = _aware(traders.importer_first) if importer else None
    hs4s = sorted({item.hs_code[:4] for item in declaration.items})
    routes = set(session.execute(
        _ROUTES, {"exporting": declaration.country_of_export, "destination": declaration.country_of_destination,
                  "hs4s": hs4s, "at": at, "id": declaration.declaration_id}
    ).scalars())
    numbers = sorted({ref.number for item in declaration.items for ref in item.permits})
    citing: dict[tuple[str, str], set[str]] = {}
    if numbers:
        for row in session.execute(_CITATIONS, {"numbers": numbers, "id": declaration.declaration_id}):
            citing.setdefault((row.issuing_country, row.number), set()).add(row.declaration_id)
    result = {}
    for item in declaration.items:
        others = set().union(*(citing.get((ref.issuing_country, ref.number), set()) for ref in item.permits))
        result[item.line] = {
            "history.permit_citations": len(others),
            "history.exporter_declarations_7d": traders.exporter_7d if exporter else 0,
            "history.importer_declarations_7d": traders.importer_7d if importer else 0,
            "history.importer_days_since_first_seen": None if first_seen is None else (at - first_seen).total_seconds() / 86400,
            "history.route_seen_before": item.hs_code[:4] in routes,
            "history.exporter_seen_before": bool(exporter and traders.exporter_seen),
        }
    return result


def import_history(session: Session, declarations: Iterable[Declaration], *, received_at: dt.datetime | None = None) -> int:
    """Load past declarations (not assessed here) so history aggregates have something to count."""
    received_at = received_at or dt.datetime.now(dt.timezone.utc)
    count = 0
    batch: list[Declaration] = []

    def flush() -> None:
        nonlocal count
        if not batch:
            return
        rows = []
        for declaration in batch:
            body = declaration.model_dump(mode="json")
            rows.append(
                {"declaration_id": declaration.declaration_id, "version": declaration.version, "body": body,
                 "body_hash": declaration_hash(body), "lodged_at": declaration.lodged_at, "received_at": received_at}
            )
        pks = session.execute(insert(DeclarationRow).returning(DeclarationRow.id, sort_by_parameter_order=True), rows).scalars().all()
        session.execute(insert(DeclarationLineRow), [row for pk, d in zip(pks, batch) for row in line_rows(d, pk)])
        refs = [row for pk, d in zip(pks, batch) for row in permit_ref_rows(d, pk)]
        if refs:
            session.execute(insert(DeclarationPermitRef), refs)
        count += len(batch)
        batch.clear()

    for declaration in declarations:
        batch.append(declaration)
        if len(batch) >= 1000:
            flush()
    flush()
    return count
