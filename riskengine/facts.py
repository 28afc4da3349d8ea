"""The facts a rule sees: one flat dict per declaration line, keyed by the names in rulelang.FIELDS."""
from __future__ import annotations

from typing import Any

from riskengine.permits.checks import Finding, LineContext
from riskengine.schemas import Declaration

__all__ = ["line_facts"]


def _header(declaration: Declaration) -> dict[str, Any]:
    lodged = declaration.lodged_at
    return {
        "declaration.declaration_id": declaration.declaration_id,
        "declaration.direction": declaration.direction,
        "declaration.customs_office": declaration.customs_office,
        "declaration.transport_mode": declaration.transport_mode,
        "declaration.declarant_id": declaration.declarant_id,
        "declaration.importer_id": declaration.importer.id,
        "declaration.importer_name": declaration.importer.name,
        "declaration.importer_country": declaration.importer.country,
        "declaration.exporter_id": declaration.exporter.id,
        "declaration.exporter_name": declaration.exporter.name,
        "declaration.exporter_country": declaration.exporter.country,
        "declaration.country_of_export": declaration.country_of_export,
        "declaration.country_of_destination": declaration.country_of_destination,
        "declaration.transit_countries": list(declaration.transit_countries),
        "declaration.line_count": len(declaration.items),
        "declaration.total_value": sum(item.value or 0.0 for item in declaration.items),
        "declaration.lodged_hour": lodged.hour,
        "declaration.lodged_weekday": lodged.weekday(),
    }


def line_facts(
    declaration: Declaration,
    lines: list[LineContext],
    *,
    findings: list[Finding],
    history: dict[int, dict[str, Any]],
    model_score: float | None,
    hs_median_unit_value: dict[str, float] | None = None,
) -> list[dict[str, Any]]:
    """One fact dict per line: header, line, taxon attributes, history aggregates, findings, model score."""
    header = _header(declaration)
    whole = [f.code for f in findings if f.line is None]
    medians = hs_median_unit_value or {}
    facts = []
    for ctx in lines:
        item, taxon = ctx.item, ctx.taxon
        cites = item.cites
        unit_value = item.value / item.net_mass_kg if item.value is not None and item.net_mass_kg else None
        median = medians.get(item.hs_code[:6])
        fact = dict(header)
        fact.update(
            {
                "item.line": item.line,
                "item.hs_code": item.hs_code,
                "item.hs4": item.hs_code[:4],
                "item.hs2": item.hs_code[:2],
                "item.description": item.description,
                "item.taxon": item.taxon,
                "item.accepted_name": getattr(taxon, "accepted_name", None),
                "item.appendix": ctx.appendix,
                "item.kingdom": getattr(taxon, "kingdom", None),
                "item.class": getattr(taxon, "class_", None),
                "item.order": getattr(taxon, "order", None),
                "item.family": getattr(taxon, "family", None),
                "item.genus": getattr(taxon, "genus", None),
                "item.cites_relevant": ctx.cites_relevant,
                "item.hs_sensitive": ctx.hs_sensitive,
                "item.country_of_origin": item.country_of_origin,
                "item.quantity": item.quantity,
                "item.unit": item.unit,
                "item.net_mass_kg": item.net_mass_kg,
                "item.value": item.value,
                "item.currency": item.currency,
                "item.unit_value": unit_value,
                "item.unit_value_ratio": unit_value / median if unit_value is not None and median else None,
                "item.term": cites.term if cites else None,
                "item.purpose": cites.purpose if cites else None,
                "item.source": cites.source if cites else None,
                "item.permit_numbers": [p.number for p in item.permits],
                "item.permit_count": len(item.permits),
                "model_score": model_score,
                "findings": whole + [f.code for f in findings if f.line == item.line],
            }
        )
        fact.update(history.get(item.line, {}))
        facts.append(fact)
    return facts
