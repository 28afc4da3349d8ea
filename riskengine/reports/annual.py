"""The CITES annual trade report of the Party running the engine, built from what customs cleared.

One record per permit line actually used in the year: the quantity is the sum of the endorsed
(used) reservations of that year's cleared declarations, in the permit line's unit. Seized
consignments freed their reservations, so they never reach the trade tables; they are listed in
their own table. The columns are those of the CITES annual-report e-upload (exporter and importer
layouts); codes follow the upload sample: Appendix as 1/2/3 and the Trade Database unit codes
(KIL, CUM, SQM...), an empty unit meaning a number of specimens.

The year is the calendar year (UTC) in which the goods were declared (`lodged_at`), so a
declaration inspected in December and settled in January counts in December's year.
"""
from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from riskengine.reference.codes import UNIT_ALIASES
from riskengine.reports.validate import PROBLEM_COLUMNS, problems_frame, validate_report
from riskengine.store.db import Database
from riskengine.store.tables import Assessment, DeclarationRow, OutcomeRow, PermitLineRow, PermitRow, Reservation

__all__ = [
    "EXPORTER_COLUMNS",
    "IMPORTER_COLUMNS",
    "PROBLEM_COLUMNS",
    "SEIZURE_COLUMNS",
    "AnnualReport",
    "build_annual_report",
    "default_party",
    "upload_unit",
    "write_annual_report",
]

EXPORTER_COLUMNS = (
    "Appendix", "SpeciesName", "TermCode", "Quantity", "UnitCode", "TradingPartner", "CountryOfOrigin",
    "ExportPermit", "OriginPermit", "IFSPermit", "PurposeCode", "SourceCode", "Year",
)
IMPORTER_COLUMNS = (
    "Appendix", "SpeciesName", "TermCode", "Quantity", "UnitCode", "TradingPartner", "CountryOfOrigin",
    "ImportPermit", "ExportPermit", "OriginPermit", "IFSPermit", "PurposeCode", "SourceCode", "Year",
)
SEIZURE_COLUMNS = (
    "Date", "DeclarationId", "Line", "Direction", "Appendix", "SpeciesName", "TermCode", "Quantity", "UnitCode",
    "CountryOfExport", "CountryOfDestination", "CountryOfOrigin", "Permits", "Findings",
)

_APPENDIX_NUMBER = {"I": "1", "II": "2", "III": "3"}
# The upload layout uses the Trade Database unit codes; our store keeps the current ones.
_UPLOAD_UNIT = {current: old for old, current in UNIT_ALIASES.items()}
_EXPORTING = ("export", "re-export")


@dataclass
class AnnualReport:
    """The report of one Party for one year: trade tables, seizures and the problems validation found."""

    year: int
    party: str | None
    exports: pd.DataFrame
    imports: pd.DataFrame
    seizures: pd.DataFrame
    problems: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(PROBLEM_COLUMNS)))

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"exports": self.exports, "imports": self.imports, "seizures": self.seizures, "problems": self.problems}

    def to_json(self) -> dict[str, Any]:
        """JSON-ready form: {year, party, exports, imports, seizures, problems}, each table a list of records."""
        return {"year": self.year, "party": self.party} | {
            name: [_json_record(r) for r in frame.to_dict(orient="records")] for name, frame in self.tables().items()
        }


def build_annual_report(database: Database, reference, *, year: int, party: str | None = None) -> AnnualReport:
    """Read the year's cleared and seized declarations from the store and build the validated report."""
    with database.session() as session:
        used = _used_reservations(session, year)
        seized = _seized_declarations(session, year)
        bodies = _declaration_bodies(session, year)
    party = (party or default_party(bodies) or "").upper() or None
    exports, imports = _trade_records(used, reference, party=party, year=year)
    report = AnnualReport(
        year=year,
        party=party,
        exports=_frame(exports, EXPORTER_COLUMNS),
        imports=_frame(imports, IMPORTER_COLUMNS),
        seizures=_frame(_seizure_records(seized, reference), SEIZURE_COLUMNS),
    )
    report.problems = problems_frame(validate_report(report, reference))
    return report


def default_party(bodies: list[dict[str, Any]]) -> str | None:
    """The Party whose border the data describes: the most common destination of imports and origin country of exports."""
    counts = Counter()
    for body in bodies:
        if body["direction"] == "import":
            counts[body["country_of_destination"]] += 1
        elif body["direction"] in _EXPORTING:
            counts[body["country_of_export"]] += 1
    if not counts:
        return None
    return min(counts, key=lambda country: (-counts[country], country))  # ties: alphabetical, so stable


# -- reading the store ------------------------------------------------------------------------


def _year_bounds(year: int) -> tuple[dt.datetime, dt.datetime]:
    return (dt.datetime(year, 1, 1, tzinfo=dt.timezone.utc), dt.datetime(year + 1, 1, 1, tzinfo=dt.timezone.utc))


@dataclass(frozen=True)
class _Used:
    """One used reservation with the declaration and the permit line it drew on."""

    assessment_id: str
    declaration: dict[str, Any]
    declaration_line: int
    quantity: float
    permit_number: str
    permit_type: str
    issuing_country: str
    line: PermitLineRow


def _used_reservations(session: Session, year: int) -> list[_Used]:
    start, end = _year_bounds(year)
    query = (
        select(Reservation, DeclarationRow.body, PermitLineRow, PermitRow.number, PermitRow.type, PermitRow.issuing_country)
        .join(Assessment, Assessment.id == Reservation.assessment_id)
        .join(DeclarationRow, DeclarationRow.id == Assessment.declaration_pk)
        .join(PermitLineRow, PermitLineRow.id == Reservation.permit_line_id)
        .join(PermitRow, PermitRow.id == PermitLineRow.permit_id)
        .outerjoin(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
        .where(Reservation.state == "used", DeclarationRow.lodged_at >= start, DeclarationRow.lodged_at < end)
        # A seizure after release (post-clearance audit) leaves the quantity used; it still did not trade.
        .where((OutcomeRow.result.is_(None)) | (OutcomeRow.result != "seizure"))
        .order_by(DeclarationRow.lodged_at, Reservation.id)
    )
    return [
        _Used(r.assessment_id, body, r.declaration_line, r.quantity, number, kind, country, line)
        for r, body, line, number, kind, country in session.execute(query)
    ]


def _seized_declarations(session: Session, year: int) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    start, end = _year_bounds(year)
    query = (
        select(DeclarationRow.body, OutcomeRow.body)
        .join(Assessment, Assessment.declaration_pk == DeclarationRow.id)
        .join(OutcomeRow, OutcomeRow.assessment_id == Assessment.id)
        .where(OutcomeRow.result == "seizure", DeclarationRow.lodged_at >= start, DeclarationRow.lodged_at < end)
        .order_by(DeclarationRow.lodged_at, DeclarationRow.declaration_id)
    )
    return [(declaration, outcome) for declaration, outcome in session.execute(query)]


def _declaration_bodies(session: Session, year: int) -> list[dict[str, Any]]:
    start, end = _year_bounds(year)
    query = (
        select(DeclarationRow.body)
        .join(Assessment, Assessment.declaration_pk == DeclarationRow.id)
        .where(DeclarationRow.lodged_at >= start, DeclarationRow.lodged_at < end)
    )
    return list(session.execute(query).scalars())


# -- building the records ---------------------------------------------------------------------


def _trade_records(used: list[_Used], reference, *, party: str | None, year: int) -> tuple[list[dict], list[dict]]:
    """Aggregate used reservations by permit line into export and import records."""
    per_line: dict[tuple[str, int], list[_Used]] = {}
    for u in used:
        per_line.setdefault((u.assessment_id, u.declaration_line), []).append(u)
    records: dict[tuple[str, int, str], dict[str, Any]] = {}
    for group in per_line.values():
        body = group[0].declaration
        table = _table_of(body, party)
        if table is None:
            continue
        import_permits = [u for u in group if u.permit_type == "import"]
        # The export-side document carries the record; an import permit alone carries it only when
        # no export document was registered.
        primary = [u for u in group if u.permit_type != "import"] or import_permits
        partner = body["country_of_destination"] if table == "exports" else body["country_of_export"]
        for u in primary:
            key = (table, u.line.id, partner)
            record = records.get(key)
            if record is None:
                record = records[key] = _record(u, reference, partner=partner, year=year)
                record["_quantity"] = 0.0
                record["_import_permits"] = set()
            record["_quantity"] += u.quantity
            record["_import_permits"].update(p.permit_number for p in import_permits)
    exports, imports = [], []
    for (table, _, _), record in records.items():
        record["Quantity"] = _tidy(record.pop("_quantity"))
        permits = sorted(record.pop("_import_permits"))
        if table == "imports":
            record["ImportPermit"] = ";".join(permits) or None
            imports.append(record)
        else:
            exports.append(record)
    return _sorted(exports), _sorted(imports)


def _table_of(body: dict[str, Any], party: str | None) -> str | None:
    if body["direction"] == "import" and (party is None or body["country_of_destination"] == party):
        return "imports"
    if body["direction"] in _EXPORTING and (party is None or body["country_of_export"] == party):
        return "exports"
    return None


def _record(u: _Used, reference, *, partner: str, year: int) -> dict[str, Any]:
    line = u.line
    exporting_country = u.declaration["country_of_export"]
    origin = line.country_of_origin if line.country_of_origin and line.country_of_origin != exporting_country else None
    return {
        "Appendix": _appendix(line.appendix or _reference_appendix(reference, line.taxon, line.country_of_origin or exporting_country)),
        "SpeciesName": _species(reference, line.taxon),
        "TermCode": line.term,
        "UnitCode": upload_unit(line.unit),
        "TradingPartner": partner,
        "CountryOfOrigin": origin,
        "ExportPermit": u.permit_number if u.permit_type != "import" else None,
        "OriginPermit": line.origin_permit or None,
        "IFSPermit": None,  # introduction from the sea is not declared to customs
        "PurposeCode": line.purpose,
        "SourceCode": line.source,
        "Year": year,
    }


def _seizure_records(seized: list[tuple[dict[str, Any], dict[str, Any]]], reference) -> list[dict[str, Any]]:
    records = []
    for body, outcome in seized:
        for item in body["items"]:
            findings = [f["code"] for f in outcome.get("findings", []) if f.get("line") in (None, item["line"])]
            origin_country = item.get("country_of_origin") or body["country_of_export"]
            cites = item.get("cites") or {}
            taxon = item.get("taxon")
            records.append({
                "Date": body["lodged_at"][:10],
                "DeclarationId": body["declaration_id"],
                "Line": item["line"],
                "Direction": body["direction"],
                "Appendix": _appendix(_reference_appendix(reference, taxon, origin_country)) if taxon else None,
                "SpeciesName": _species(reference, taxon) if taxon else None,
                "TermCode": cites.get("term"),
                "Quantity": _tidy(item["quantity"]),
                "UnitCode": upload_unit(item.get("unit")),
                "CountryOfExport": body["country_of_export"],
                "CountryOfDestination": body["country_of_destination"],
                "CountryOfOrigin": item.get("country_of_origin"),
                "Permits": ";".join(f"{p['issuing_country']}:{p['number']}" for p in item.get("permits", [])) or None,
                "Findings": ";".join(findings) or None,
            })
    return records


def upload_unit(unit: str | None) -> str | None:
    """The unit code the e-upload expects for a stored unit (KGM -> KIL); None for a number of specimens."""
    if not unit or unit == "NAR":
        return None
    return _UPLOAD_UNIT.get(unit, unit)


def _appendix(appendix: str | None) -> str | None:
    return _APPENDIX_NUMBER.get(appendix, appendix) if appendix else None


def _reference_appendix(reference, taxon: str | None, country: str | None) -> str | None:
    return reference.appendix_for(taxon, country) if taxon else None


def _species(reference, taxon: str) -> str:
    info = reference.lookup(taxon)
    return info.accepted_name if info is not None else taxon


def _tidy(quantity: float) -> int | float:
    # Sums of endorsed quantities carry float noise (0.1 + 0.2); the report shows what was endorsed.
    value = round(float(quantity), 9)
    return int(value) if value.is_integer() else value


def _sorted(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(records, key=lambda r: (r["SpeciesName"] or "", r["TermCode"] or "", r["TradingPartner"] or "",
                                          r.get("ExportPermit") or "", r.get("ImportPermit") or ""))


def _frame(records: list[dict[str, Any]], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame(records, columns=list(columns), dtype=object)
    return frame.astype(object).where(frame.notna(), None)


def _json_record(record: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}


# -- writing ------------------------------------------------------------------------------------


def write_annual_report(report: AnnualReport, out: Path) -> list[Path]:
    """Write the report by the suffix of `out` and return the files written.

    `.xlsx`: one workbook with the sheets exports, imports, seizures and problems. `.csv`: four
    files beside `out` named after its stem, `<stem>_exports.csv` and `<stem>_imports.csv` (the
    two upload files) plus `<stem>_seizures.csv` and `<stem>_problems.csv`.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        written = []
        for name, frame in report.tables().items():
            path = out.with_name(f"{out.stem}_{name}.csv")
            frame.to_csv(path, index=False)
            written.append(path)
        return written
    if suffix == ".xlsx":
        with pd.ExcelWriter(out, engine="openpyxl") as writer:
            for name, frame in report.tables().items():
                frame.to_excel(writer, sheet_name=name, index=False)
                sheet = writer.sheets[name]
                sheet.freeze_panes = "A2"
                for column in sheet.columns:
                    width = max(len(str(cell.value)) if cell.value is not None else 0 for cell in column)
                    sheet.column_dimensions[column[0].column_letter].width = min(60, width + 2)
        return [out]
    raise ValueError(f"{out}: write the report as .csv or .xlsx, not {out.suffix or 'no suffix'}")
