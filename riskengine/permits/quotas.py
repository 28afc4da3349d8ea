"""How much of an export quota is already taken: permit lines of the exporting country in the quota year."""
from __future__ import annotations

from sqlalchemy import extract, select
from sqlalchemy.orm import Session

from riskengine.permits.checks import taxon_covers
from riskengine.store.tables import PermitLineRow, PermitRow

__all__ = ["quota_key", "quota_usage"]


def quota_key(quota, country: str, year: int) -> str:
    return f"{quota.taxon}|{country}|{year}|{quota.term or ''}|{quota.source or ''}"


def quota_usage(session: Session, quota, country: str, year: int, *, reference) -> float:
    """Quantity used or reserved in `year` on export permits of `country` for the quota's taxon, in its unit."""
    rows = session.execute(
        select(PermitLineRow.taxon, PermitLineRow.term, PermitLineRow.source, PermitLineRow.unit,
               PermitLineRow.quantity_used, PermitLineRow.quantity_reserved)
        .join(PermitRow, PermitRow.id == PermitLineRow.permit_id)
        .where(PermitRow.issuing_country == country, PermitRow.type == "export",
               extract("year", PermitRow.issued_on) == year)
    ).all()
    total = 0.0
    for taxon, term, source, unit, used, reserved in rows:
        if quota.terms and term not in quota.terms:
            continue
        if quota.sources and source not in quota.sources:
            continue
        if not taxon_covers(reference, quota.taxon, taxon):
            continue
        converted = reference.convert(used + reserved, unit, quota.unit)
        if converted is not None:
            total += converted
    return total
