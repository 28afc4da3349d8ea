"""The catalogue of names a rule's `when` may use, and the normalisation of one fact.

The engine builds one flat dict per declaration line with exactly the keys of `FIELDS`; both
backends normalise values the same way first, so that the two give the same hits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FieldSpec", "FIELDS", "FINDING_CODES", "normalise_fact", "normalise_value", "LIST_SEPARATOR"]

FieldType = Literal["str", "number", "bool", "list"]

LIST_SEPARATOR = ";"


@dataclass(frozen=True)
class FieldSpec:
    """One name a rule may use: its type and what it means."""

    type: FieldType
    description: str


def _f(kind: FieldType, description: str) -> FieldSpec:
    return FieldSpec(kind, description)


FIELDS: dict[str, FieldSpec] = {
    "declaration.declaration_id": _f("str", "single-window declaration id"),
    "declaration.direction": _f("str", "import, export, re-export or transit"),
    "declaration.customs_office": _f("str", "office code where the declaration is lodged"),
    "declaration.transport_mode": _f("str", "air, sea, road, rail, post"),
    "declaration.declarant_id": _f("str", "declarant (broker) id"),
    "declaration.importer_id": _f("str", "importer id"),
    "declaration.importer_name": _f("str", "importer name"),
    "declaration.importer_country": _f("str", "importer country, ISO2"),
    "declaration.exporter_id": _f("str", "exporter id"),
    "declaration.exporter_name": _f("str", "exporter name"),
    "declaration.exporter_country": _f("str", "exporter country, ISO2"),
    "declaration.country_of_export": _f("str", "country of export, ISO2"),
    "declaration.country_of_destination": _f("str", "country of destination, ISO2"),
    "declaration.transit_countries": _f("list", "transit countries, ISO2"),
    "declaration.line_count": _f("number", "number of lines on the declaration"),
    "declaration.total_value": _f("number", "sum of line values"),
    "declaration.lodged_hour": _f("number", "hour lodged, 0-23"),
    "declaration.lodged_weekday": _f("number", "weekday lodged, 0=Monday"),
    "item.line": _f("number", "line number"),
    "item.hs_code": _f("str", "HS code as declared (6+ digits)"),
    "item.hs4": _f("str", "HS heading (4 digits)"),
    "item.hs2": _f("str", "HS chapter (2 digits)"),
    "item.description": _f("str", "goods description as declared"),
    "item.taxon": _f("str", "taxon as declared"),
    "item.accepted_name": _f("str", "accepted taxon name after normalisation"),
    "item.appendix": _f("str", "CITES appendix: I, II, III or none"),
    "item.kingdom": _f("str", "Animalia or Plantae"),
    "item.class": _f("str", "taxonomic class"),
    "item.order": _f("str", "taxonomic order"),
    "item.family": _f("str", "taxonomic family"),
    "item.genus": _f("str", "genus"),
    "item.cites_relevant": _f("bool", "listed taxon, CITES-sensitive HS heading or permit cited"),
    "item.hs_sensitive": _f("bool", "HS heading on the CITES-sensitive list"),
    "item.country_of_origin": _f("str", "country of origin, ISO2"),
    "item.quantity": _f("number", "quantity in the line's unit"),
    "item.unit": _f("str", "CITES unit code (absent = specimens)"),
    "item.net_mass_kg": _f("number", "net mass in kg"),
    "item.value": _f("number", "declared value"),
    "item.currency": _f("str", "currency of the value"),
    "item.unit_value": _f("number", "value per kg"),
    "item.unit_value_ratio": _f("number", "unit value / median unit value of the HS6 in history"),
    "item.term": _f("str", "CITES term code"),
    "item.purpose": _f("str", "CITES purpose code"),
    "item.source": _f("str", "CITES source code"),
    "item.permit_numbers": _f("list", "permit numbers cited on the line"),
    "item.permit_count": _f("number", "number of permits cited on the line"),
    "history.permit_citations": _f("number", "other declarations citing a permit of this line (counted up to 100)"),
    "history.exporter_declarations_7d": _f("number", "declarations by this exporter in the last 7 days (counted up to 100)"),
    "history.importer_declarations_7d": _f("number", "declarations by this importer in the last 7 days (counted up to 100)"),
    "history.importer_days_since_first_seen": _f("number", "days since the importer was first seen"),
    "history.route_seen_before": _f("bool", "exporter country -> destination seen before for this HS4"),
    "history.exporter_seen_before": _f("bool", "exporter seen before"),
    "model_score": _f("number", "anomaly model score 0..1"),
    "findings": _f("list", "permit-check finding codes; use finding(\"CODE\")"),
}

FINDING_CODES: tuple[str, ...] = (
    "PERMIT_REQUIRED", "PERMIT_UNKNOWN", "PERMIT_WRONG_TYPE", "PERMIT_NOT_YET_VALID",
    "PERMIT_EXPIRED", "PERMIT_CANCELLED", "PERMIT_LOST_OR_STOLEN", "PERMIT_COUNTRY_MISMATCH",
    "PERMIT_PARTY_MISMATCH", "PERMIT_TAXON_MISMATCH", "PERMIT_QUANTITY_EXCEEDED",
    "PERMIT_ALREADY_USED", "IMPORT_PERMIT_REQUIRED", "APPENDIX_I_COMMERCIAL",
    "SOURCE_INVALID_FOR_KINGDOM", "TRADE_SUSPENDED", "QUOTA_EXCEEDED", "CODE_INVALID",
    "REEXPORT_ORIGIN_INVALID", "PERMIT_REGISTRY_UNAVAILABLE",
)


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(value != value)  # NaN, pd.NA and NaT
    except (TypeError, ValueError):
        return False


def normalise_value(kind: FieldType, value: Any) -> Any:
    """One value coerced to its field type; anything that does not fit becomes None (lists: [])."""
    if kind == "list":
        if isinstance(value, str):
            return [part for part in value.split(LIST_SEPARATOR) if part]
        if isinstance(value, (list, tuple)) or (hasattr(value, "__iter__") and hasattr(value, "__len__")
                                                and not isinstance(value, (dict, bytes))):
            return [str(v) for v in value if not _is_missing(v)]
        return []
    if _is_missing(value):
        return None
    if kind == "number":
        if isinstance(value, bool) or hasattr(value, "dtype") and value.dtype == bool:
            return None
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    if kind == "bool":
        if isinstance(value, bool) or (hasattr(value, "dtype") and value.dtype == bool):
            return bool(value)
        return None
    return value if isinstance(value, str) else str(value)


_TYPES = [(name, spec.type) for name, spec in FIELDS.items()]
_FAST = {"str": str, "bool": bool}


def normalise_fact(fact: dict[str, Any]) -> dict[str, Any]:
    """A fact with every catalogue key present and each value of its field's type."""
    out = {}
    for name, kind in _TYPES:
        value = fact.get(name)
        if value is None:
            out[name] = [] if kind == "list" else None
        elif type(value) is _FAST.get(kind) or kind == "number" and type(value) is float and math.isfinite(value):
            out[name] = value
        else:
            out[name] = normalise_value(kind, value)
    return out
