"""History aggregates that rules read (citations of a permit, a trader's recent activity, routes)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import DateTime, Integer, bindparam, insert, text
from sqlalchemy.orm import Session

from riskengine.schemas import Declaration, declaration_hash
from riskengine.store.tables import DeclarationLineRow, DeclarationPermitRef, DeclarationRow

__all__ = ["RECENT_CAP", "aggregates", "permit_token", "line_rows", "permit_ref_rows", "import_history"]


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


# Counts of other declarations (7-day trader activity, citations of a permit) stop here: rules compare
# them with small thresholds, and counting every declaration of a large trader or a much-cited permit
# on each assessment made the cost grow with its volume.
RECENT_CAP = 100

# Plain SQL, built once: the aggregates run for every assessment, and composing ORM expressions
# per call cost more than the queries themselves. Only declarations lodged before this one count.
_TRADERS = text(
    """
    SELECT
      (SELECT count(*) FROM (SELECT DISTINCT declaration_id FROM declaration_lines
        WHERE exporter_id = :exporter AND lodged_at >= :week_ago AND lodged_at < :at AND declaration_id <> :id
        LIMIT :cap) AS recent_exports) AS exporter_7d,
      (SELECT count(*) FROM (SELECT DISTINCT declaration_id FROM declaration_lines
        WHERE importer_id = :importer AND lodged_at >= :week_ago AND lodged_at < :at AND declaration_id <> :id
        LIMIT :cap) AS recent_imports) AS importer_7d,
      (SELECT min(lodged_at) FROM declaration_lines
        WHERE importer_id = :importer AND lodged_at < :at AND declaration_id <> :id) AS importer_first,
      (SELECT count(*) FROM (SELECT 1 FROM declaration_lines
        WHERE exporter_id = :exporter AND lodged_at < :at AND declaration_id <> :id LIMIT 1) AS seen) AS exporter_seen
    """
).bindparams(
    bindparam("at", type_=DateTime(timezone=True)), bindparam("week_ago", type_=DateTime(timezone=True))
).columns(exporter_7d=Integer, importer_7d=Integer, importer_first=DateTime(timezone=True), exporter_seen=Integer)

_ROUTE_SEEN = text(
    """
    SELECT 1 FROM declaration_lines
    WHERE country_of_export = :exporting AND country_of_destination = :destination AND hs4 = :hs4
      AND lodged_at < :at AND declaration_id <> :id
    LIMIT 1
    """
).bindparams(bindparam("at", type_=DateTime(timezone=True)))

_CITATIONS = text(
    """
    SELECT DISTINCT declaration_id FROM declaration_permit_refs
    WHERE issuing_country = :country AND number = :number AND declaration_id <> :id
    LIMIT :cap
    """
)

# A line citing one permit (the usual case) needs only how many other declarations cite it: counted
# in SQL rather than fetching up to RECENT_CAP ids to count them in Python (a much-cited permit made
# that 100 rows per assessment). Lines citing several permits still unite the sets of ids.
_CITATION_COUNT = text(
    """
    SELECT count(*) FROM (SELECT DISTINCT declaration_id FROM declaration_permit_refs
      WHERE issuing_country = :country AND number = :number AND declaration_id <> :id
      LIMIT :cap) AS citing
    """
).columns(count=Integer)


def aggregates(session: Session, declaration: Declaration) -> dict[int, dict[str, Any]]:
    """Per line: the `history.*` facts, from declarations lodged before this one (never this one)."""
    at = declaration.lodged_at
    importer = declaration.importer.id or declaration.importer.name
    exporter = declaration.exporter.id or declaration.exporter.name
    db = session.connection()  # Core on the session's connection: the ORM adds nothing to plain SQL here
    traders = db.execute(
        _TRADERS, {"exporter": exporter, "importer": importer, "week_ago": at - dt.timedelta(days=7), "at": at,
                   "id": declaration.declaration_id, "cap": RECENT_CAP}
    ).one()
    first_seen = _aware(traders.importer_first) if importer else None
    routes = {
        hs4 for hs4 in sorted({item.hs_code[:4] for item in declaration.items})
        if db.execute(_ROUTE_SEEN, {"exporting": declaration.country_of_export, "destination": declaration.country_of_destination,
                                         "hs4": hs4, "at": at, "id": declaration.declaration_id}).first() is not None
    }
    citing: dict[tuple[str, str], set[str]] = {}
    counts: dict[tuple[str, str], int] = {}
    cited = [{(ref.issuing_country, ref.number) for ref in item.permits} for item in declaration.items]
    alone = {next(iter(refs)) for refs in cited if len(refs) == 1}
    together = set().union(*(refs for refs in cited if len(refs) > 1))
    for country, number in sorted(alone - together):
        counts[(country, number)] = db.execute(
            _CITATION_COUNT, {"country": country, "number": number, "id": declaration.declaration_id, "cap": RECENT_CAP}
        ).scalar_one()
    for country, number in sorted(together):
        citing[(country, number)] = set(db.execute(
            _CITATIONS, {"country": country, "number": number, "id": declaration.declaration_id, "cap": RECENT_CAP}
        ).scalars())
    result = {}
    for item, refs in zip(declaration.items, cited):
        if len(refs) == 1 and next(iter(refs)) in counts:
            citations = counts[next(iter(refs))]
        else:
            citations = len(set().union(*(citing.get(ref, set()) for ref in refs)))
        result[item.line] = {
            "history.permit_citations": min(citations, RECENT_CAP),
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
