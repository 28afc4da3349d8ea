"""Loading permits into the registry: one at a time (API) or whole files (CSV, JSON lines, e-permit XML)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from riskengine.schemas import Permit
from riskengine.store.audit import Actor
from riskengine.store.permits import get_permit_document, put_permit

__all__ = ["import_permits", "put_one"]


def put_one(engine, permit: Permit, *, actor: Actor) -> Permit:
    """Create or replace one permit and return it as registered."""
    settings = engine.settings.permits
    with engine.database.session() as session:
        put_permit(session, permit, actor=actor, export_months=settings.export_validity_months,
                   import_months=settings.import_validity_months)
        return get_permit_document(session, permit.issuing_country, permit.number)


def import_permits(engine, path: Path, *, actor: Actor, progress=None) -> dict[str, Any]:
    """Import every permit of a file in one transaction: all of them, or none when any is invalid."""
    from riskengine.permits.importers import read_permits

    permits = list(read_permits(Path(path)))
    settings = engine.settings.permits
    created = 0
    with engine.database.session() as session:
        for permit in permits:
            created += put_permit(session, permit, actor=actor, export_months=settings.export_validity_months,
                                  import_months=settings.import_validity_months)
            if progress is not None:
                progress()
    # a bulk load leaves PostgreSQL's planner statistics stale; the next assessments would pay for it
    engine.database.refresh_statistics()
    return {"imported": len(permits), "created": created, "replaced": len(permits) - created}
