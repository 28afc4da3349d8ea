"""History aggregates that rules read (citations of a permit, a trader's recent activity, routes)."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.orm import Session

from riskengine.schemas import Declaration, declaration_hash
from riskengine.store.tables import DeclarationLineRow, DeclarationRow

__all__ = ["aggregates", "permit_token", "line_rows", "import_history"]


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


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    return value


def aggregates(session: Session, declaration: Declaration) -> dict[int, dict[str, Any]]:
    """Per line: the `history.*` facts, from declarations lodged before this one (never this one)."""
    lines = DeclarationLineRow
    at = declaration.lodged_at
    week_ago = at - dt.timedelta(days=7)
    others = lines.declaration_id != declaration.declaration_id
    importer = declaration.importer.id or declaration.importer.name
    exporter = declaration.exporter.id or declaration.exporter.name

    def recent(column, value) -> int:
        return session.execute(
            select(func.count(func.distinct(lines.declaration_id))).where(
                column == value, lines.lodged_at >= week_ago, lines.lodged_at < at, others
            )
        ).scalar_one()

    exporter_7d = recent(lines.exporter_id, exporter) if exporter else 0
    importer_7d = recent(lines.importer_id, importer) if importer else 0
    first_seen = None
    if importer:
        first_seen = _aware(
            session.execute(select(func.min(lines.lodged_at)).where(lines.importer_id == importer, lines.lodged_at < at, others)).scalar_one()
        )
    exporter_seen = bool(
        exporter and session.execute(select(lines.id).where(lines.exporter_id == exporter, lines.lodged_at < at, others).limit(1)).first()
    )
    result = {}
    for item in declaration.items:
        tokens = [permit_token(p.issuing_country, p.number) for p in item.permits]
        citations = 0
        if tokens:
            citations = session.execute(
                select(func.count(func.distinct(lines.declaration_id))).where(
                    others, or_(*(lines.permits.contains(token) for token in tokens))
                )
            ).scalar_one()
        route = session.execute(
            select(lines.id).where(
                lines.country_of_export == declaration.country_of_export,
                lines.country_of_destination == declaration.country_of_destination,
                lines.hs4 == item.hs_code[:4],
                lines.lodged_at < at,
                others,
            ).limit(1)
        ).first()
        result[item.line] = {
            "history.permit_citations": citations,
            "history.exporter_declarations_7d": exporter_7d,
            "history.importer_declarations_7d": importer_7d,
            "history.importer_days_since_first_seen": None if first_seen is None else (at - first_seen).total_seconds() / 86400,
            "history.route_seen_before": route is not None,
            "history.exporter_seen_before": exporter_seen,
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
        count += len(batch)
        batch.clear()

    for declaration in declarations:
        batch.append(declaration)
        if len(batch) >= 1000:
            flush()
    flush()
    return count
