"""Checks on an annual report before it is exported, with the rules the CITES Trade Database applies.

Each problem names the table, the row (1 = the first record under the header, as in the written
file), the field, a stable code and a message. Problems do not remove records: the Management
Authority corrects the permit data or explains the record, and the report says what it found.

Codes:
- `MISSING_VALUE`: a field the upload requires is empty.
- `UNKNOWN_CODE`: a term, purpose, source or unit code not in the CITES lists.
- `TERM_UNIT_IMPOSSIBLE`: a unit that cannot describe that term (e.g. LIV in cubic metres).
- `APPENDIX_I_COMMERCIAL_WILD`: Appendix I, purpose T, from the wild (sources W, X, F, R).
- `UNKNOWN_TAXON`: a species name the reference data does not know.
- `QUANTITY_NOT_POSITIVE`: a record with nothing traded.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from riskengine.permits.checks import WILD_SOURCES

__all__ = ["PROBLEM_COLUMNS", "Problem", "problems_frame", "validate_report", "validate_records"]

PROBLEM_COLUMNS = ("Table", "Row", "Field", "Code", "Message")

_REQUIRED = ("Appendix", "SpeciesName", "TermCode", "TradingPartner", "PurposeCode", "SourceCode")
_CODES = (("TermCode", "term"), ("PurposeCode", "purpose"), ("SourceCode", "source"), ("UnitCode", "unit"))


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one record of the report."""

    table: str
    row: int
    field: str
    code: str
    message: str


def validate_report(report, reference) -> list[Problem]:
    """Every problem of the two trade tables of `report` (seizures are not uploaded, so not checked)."""
    problems = []
    for table in ("exports", "imports"):
        problems += validate_records(table, getattr(report, table).to_dict(orient="records"), reference)
    return problems


def validate_records(table: str, records: list[dict[str, Any]], reference) -> list[Problem]:
    """The problems of trade records laid out as the upload columns."""
    problems = []
    for row, record in enumerate(records, start=1):
        def add(field: str, code: str, message: str) -> None:
            problems.append(Problem(table, row, field, code, message))

        for name in _REQUIRED:
            if _empty(record.get(name)):
                add(name, "MISSING_VALUE", f"{name} is empty")
        if table == "exports" and _empty(record.get("ExportPermit")):
            add("ExportPermit", "MISSING_VALUE", "an export record needs the export permit or re-export certificate")
        if table == "imports" and _empty(record.get("ExportPermit")) and _empty(record.get("ImportPermit")):
            add("ExportPermit", "MISSING_VALUE", "an import record needs the exporting country's permit or the import permit")
        for name, kind in _CODES:
            code = record.get(name)
            if not _empty(code) and not reference.is_valid_code(kind, code):
                add(name, "UNKNOWN_CODE", f"{kind} code {code} is not in the CITES lists")
        term, unit = record.get("TermCode"), record.get("UnitCode")
        if not _empty(term) and reference.is_valid_code("term", term) and (_empty(unit) or reference.is_valid_code("unit", unit)):
            if not reference.term_unit_allowed(term, None if _empty(unit) else unit):
                add("UnitCode", "TERM_UNIT_IMPOSSIBLE", f"term {term} is not reported in {unit or 'number of specimens'}")
        if record.get("Appendix") in ("1", "I") and record.get("PurposeCode") == "T" and record.get("SourceCode") in WILD_SOURCES:
            add("PurposeCode", "APPENDIX_I_COMMERCIAL_WILD",
                f"Appendix I specimens from source {record['SourceCode']} may not be traded for commercial purposes (T)")
        species = record.get("SpeciesName")
        if not _empty(species) and reference.lookup(species) is None:
            add("SpeciesName", "UNKNOWN_TAXON", f"{species} is not in the reference taxonomy")
        quantity = record.get("Quantity")
        if quantity is not None and not _empty(quantity) and float(quantity) <= 0:
            add("Quantity", "QUANTITY_NOT_POSITIVE", f"quantity {quantity} is not positive")
    return problems


def problems_frame(problems: list[Problem]) -> pd.DataFrame:
    """The problems as a table with the columns Table, Row, Field, Code, Message."""
    rows = [{k.capitalize(): v for k, v in asdict(p).items()} for p in problems]
    return pd.DataFrame(rows, columns=list(PROBLEM_COLUMNS), dtype=object)


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or (isinstance(value, str) and not value.strip())
