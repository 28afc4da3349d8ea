"""The history table: one row per declaration line, the shape shared by training, backtests and batch.

Every table an administration brings (through a column mapping) and every table riskengine writes
(demo history, batch input) uses these column names. Label columns are optional.
"""
from __future__ import annotations

from typing import Any

from riskengine.schemas import Declaration

__all__ = ["HISTORY_COLUMNS", "EXTRA_COLUMNS", "LABEL_COLUMNS", "declaration_rows"]

# name -> pandas dtype
HISTORY_COLUMNS: dict[str, str] = {
    "declaration_id": "string",
    "version": "Int64",
    "lodged_at": "datetime64[ns, UTC]",
    "direction": "string",
    "customs_office": "string",
    "transport_mode": "string",
    "declarant_id": "string",
    "importer_id": "string",
    "importer_name": "string",
    "importer_country": "string",
    "exporter_id": "string",
    "exporter_name": "string",
    "exporter_country": "string",
    "country_of_export": "string",
    "country_of_destination": "string",
    "transit_countries": "string",  # ';'-joined ISO2 codes
    "line": "Int64",
    "hs_code": "string",
    "description": "string",
    "taxon": "string",
    "country_of_origin": "string",
    "quantity": "float64",
    "unit": "string",
    "net_mass_kg": "float64",
    "value": "float64",
    "currency": "string",
    "term": "string",
    "purpose": "string",
    "source": "string",
    "permits": "string",  # ';'-joined "CC:NUMBER"
}

# Columns some administrations have (the KCS data set does); the model uses them when present.
EXTRA_COLUMNS: dict[str, str] = {
    "tax_rate": "float64",
    "tax_type": "string",
    "process_type": "string",
    "import_type": "string",
    "import_use": "string",
    "payment_type": "string",
    "origin_indicator": "string",
    "courier_id": "string",
}

# fraud: 1 when an inspection found a discrepancy or seizure, 0 when it found none, NA when not inspected.
LABEL_COLUMNS: dict[str, str] = {
    "fraud": "Int64",
    "critical_fraud": "Int64",
    "outcome": "string",
    "lane": "string",
}


def declaration_rows(declaration: Declaration) -> list[dict[str, Any]]:
    """The history rows (one per line) of a validated declaration."""
    header = {
        "declaration_id": declaration.declaration_id,
        "version": declaration.version,
        "lodged_at": declaration.lodged_at,
        "direction": declaration.direction,
        "customs_office": declaration.customs_office,
        "transport_mode": declaration.transport_mode,
        "declarant_id": declaration.declarant_id,
        "importer_id": declaration.importer.id,
        "importer_name": declaration.importer.name,
        "importer_country": declaration.importer.country,
        "exporter_id": declaration.exporter.id,
        "exporter_name": declaration.exporter.name,
        "exporter_country": declaration.exporter.country,
        "country_of_export": declaration.country_of_export,
        "country_of_destination": declaration.country_of_destination,
        "transit_countries": ";".join(declaration.transit_countries),
    }
    rows = []
    for item in declaration.items:
        cites = item.cites
        rows.append(
            header
            | {
                "line": item.line,
                "hs_code": item.hs_code,
                "description": item.description,
                "taxon": item.taxon,
                "country_of_origin": item.country_of_origin,
                "quantity": item.quantity,
                "unit": item.unit,
                "net_mass_kg": item.net_mass_kg,
                "value": item.value,
                "currency": item.currency,
                "term": cites.term if cites else None,
                "purpose": cites.purpose if cites else None,
                "source": cites.source if cites else None,
                "permits": ";".join(f"{p.issuing_country}:{p.number}" for p in item.permits),
            }
        )
    return rows
