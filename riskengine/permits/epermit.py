"""CITES e-permits (UN/CEFACT CITESEPermit v2, and CBFShip v1 as exchanged through EPIX).

Boxes of the permit form and where they sit (root = CITESEPermit, v1 root = CBFShip):

    box 1    number, type        HeaderExchangedDocument/ID, /TypeCode (E, R, I, O), /Name
    box 2    valid until         HeaderExchangedDocument/EffectiveSpecifiedPeriod/EndDateTime
    box 3    importer            SpecifiedSupplyChainConsignment/ConsigneeTradeParty
    box 4    exporter            SpecifiedSupplyChainConsignment/ConsignorTradeParty
    box 5a   purpose             HeaderExchangedDocument/PurposeCode (one per document)
    box 6    issuing authority   HeaderExchangedDocument/FirstSignatoryDocumentAuthentication/ProviderTradeParty
    box 7-12 one line per        SpecifiedSupplyChainConsignment/IncludedSupplyChainConsignmentItem
             consignment item    (scientific name, term, appendix, source, quantity, origin, origin permit)
    box 13   issue date          HeaderExchangedDocument/IssueDateTime

Countries are taken as ISO codes (CountryID in v2, CountryIdentificationTradeCountry/ID in v1).
The issuing country is the Management Authority's (box 6), or else the exporter's for export
documents and the importer's for import permits.
"""
from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ET
from typing import Any

from pydantic import ValidationError

from riskengine.permits.importers import PermitImportError, _errors
from riskengine.schemas import Permit

__all__ = ["NS_RABIE", "NS_V2", "PermitImportError", "parse_epermit_xml", "permit_to_epermit_xml"]

NS_V2 = "urn:un:unece:uncefact:data:standard:CITESEPermit:2"
NS_RABIE = "urn:un:unece:uncefact:data:draft:ReusableAggregateBusinessInformationEntity:1"
_ROOTS = ("CITESEPermit", "CBFShip")
_TYPES = {"E": "export", "R": "re-export", "I": "import", "O": "other"}
_TYPE_CODES = {"export": "E", "re-export": "R", "import": "I", "certificate_of_origin": "O", "other": "O"}
_ORIGIN_DOC, _REEXPORT_DOC = "861", "811"
_HEADER = "HeaderExchangedDocument"
_CONSIGNMENT = "SpecifiedSupplyChainConsignment"
_ITEM = "IncludedSupplyChainConsignmentItem"
_AUTHORITY = f"{_HEADER}/FirstSignatoryDocumentAuthentication/ProviderTradeParty"
# Permit field -> (box, element) for messages about values the schema rejects.
_BOXES = {
    "number": ("1", f"{_HEADER}/ID"),
    "type": ("1", f"{_HEADER}/TypeCode"),
    "issued_on": ("13", f"{_HEADER}/IssueDateTime"),
    "valid_until": ("2", f"{_HEADER}/EffectiveSpecifiedPeriod/EndDateTime"),
    "issuing_country": ("6", f"{_AUTHORITY}/PostalTradeAddress/CountryID"),
    "exporter": ("4", f"{_CONSIGNMENT}/ConsignorTradeParty"),
    "importer": ("3", f"{_CONSIGNMENT}/ConsigneeTradeParty"),
}
_LINE_BOXES = {
    "taxon": ("7", "SpecifiedTradeProduct/ScientificName"),
    "term": ("9", "SpecifiedTradeProduct/TypeCode"),
    "appendix": ("10", "IncludedSupplyChainTradeLineItem/TypeCode"),
    "source": ("10", "IncludedSupplyChainTradeLineItem/TypeExtensionCode"),
    "purpose": ("5a", f"{_HEADER}/PurposeCode"),
    "quantity": ("11", "TransportLogisticsPackage/ItemQuantity"),
    "unit": ("11", "TransportLogisticsPackage/ItemQuantity/@unitCode"),
    "country_of_origin": ("12", "OriginTradeCountry/ID"),
    "origin_permit": ("12", "AssociatedReferencedDocument/ID"),
}


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _child(element: ET.Element | None, path: str) -> ET.Element | None:
    for name in path.split("/"):
        if element is None:
            return None
        element = next((c for c in element if _local(c.tag) == name), None)
    return element


def _children(element: ET.Element | None, name: str) -> list[ET.Element]:
    return [] if element is None else [c for c in element if _local(c.tag) == name]


def _text(element: ET.Element | None, path: str = "") -> str | None:
    found = _child(element, path) if path else element
    if found is None or found.text is None:
        return None
    return " ".join(found.text.split()) or None


def parse_epermit_xml(data: bytes | str, *, source: str = "e-permit") -> list[Permit]:
    """Every permit in a CITES e-permit XML document (bare, or inside a SOAP envelope)."""
    raw = data.encode() if isinstance(data, str) else data
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise PermitImportError(f"{source}: DOCTYPE/ENTITY declarations are not accepted in e-permits")
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        line, column = exc.position
        raise PermitImportError(f"{source}:{line}: not well-formed XML (column {column})") from None
    documents = [e for e in root.iter() if _local(e.tag) in _ROOTS]
    if not documents:
        raise PermitImportError(f"{source}: no CITESEPermit (v2) or CBFShip (v1) element found")
    permits, problems = [], []
    for index, document in enumerate(documents, 1):
        where = f"{source}: {_local(document.tag)}[{index}]"
        permit, found = _permit(document, where)
        problems += found
        if permit is not None:
            permits.append(permit)
    if problems:
        raise PermitImportError(problems, source=source)
    return permits


def _date(value: str | None, where: str, box: str, element: str, problems: list[str]) -> dt.date | None:
    if value is None:
        return None
    try:
        return dt.date.fromisoformat(value[:10])  # the date as written, whatever the time zone
    except ValueError:
        problems.append(f"{where}: box {box} {element}: {value!r} is not a date")
        return None


def _country(address: ET.Element | None) -> str | None:
    return _text(address, "CountryID") or _text(address, "CountryIdentificationTradeCountry/ID")


def _party(element: ET.Element | None) -> dict[str, Any] | None:
    if element is None:
        return None
    address = _child(element, "PostalTradeAddress")
    city = " ".join(filter(None, (_text(address, "PostcodeCode"), _text(address, "CityName"))))
    parts = [_text(address, "PostOfficeBox"), _text(address, "StreetName"), city or None, _text(address, "CountrySubDivisionName")]
    party = {"name": _text(element, "Name"), "address": ", ".join(p for p in parts if p) or None, "country": _country(address)}
    if not any(party.values()):
        return None
    return {k: v for k, v in party.items() if v is not None}


def _permit(document: ET.Element, where: str) -> tuple[Permit | None, list[str]]:
    problems: list[str] = []
    header = _child(document, _HEADER)
    if header is None:
        return None, [f"{where}: box 1 {_HEADER} is missing"]
    number = _text(header, "ID")
    if number is None:
        problems.append(f"{where}: box 1 {_HEADER}/ID (permit number) is missing")
    type_code = (_text(header, "TypeCode") or "").upper()
    kind = _TYPES.get(type_code)
    if kind is None:
        problems.append(f"{where}: box 1 {_HEADER}/TypeCode {type_code or '(missing)'!r} is not E, R, I or O")
    elif kind == "other" and "origin" in (_text(header, "Name") or "").lower():
        kind = "certificate_of_origin"
    issued_text = _text(header, "IssueDateTime")
    if issued_text is None:
        problems.append(f"{where}: box 13 {_HEADER}/IssueDateTime (date of issue) is missing")
    issued = _date(issued_text, where, "13", f"{_HEADER}/IssueDateTime", problems)
    valid_until = _date(_text(header, "EffectiveSpecifiedPeriod/EndDateTime"), where, "2",
                        f"{_HEADER}/EffectiveSpecifiedPeriod/EndDateTime", problems)
    consignment = _child(document, _CONSIGNMENT)
    exporter = _party(_child(consignment, "ConsignorTradeParty"))
    importer = _party(_child(consignment, "ConsigneeTradeParty"))
    issuing = _country(_child(header, "FirstSignatoryDocumentAuthentication/ProviderTradeParty/PostalTradeAddress"))
    if issuing is None:
        fallback = importer if kind == "import" else exporter
        issuing = (fallback or {}).get("country")
    if issuing is None:
        problems.append(f"{where}: box 6 {_AUTHORITY}/PostalTradeAddress/CountryID (issuing country) is missing")
    purpose = _text(header, "PurposeCode")
    items = _children(consignment, _ITEM)
    if not items:
        problems.append(f"{where}: boxes 7-12 {_CONSIGNMENT}/{_ITEM} is missing (a permit needs at least one line)")
    lines = [_line(item, position, purpose, where, problems) for position, item in enumerate(items, 1)]
    if problems:
        return None, problems
    document_ = {"number": number, "issuing_country": issuing, "type": kind, "issued_on": issued,
                 "valid_until": valid_until, "exporter": exporter, "importer": importer, "lines": lines}
    try:
        return Permit.model_validate({k: v for k, v in document_.items() if v is not None}), []
    except ValidationError as exc:
        return None, _errors(exc, lambda loc: _describe(loc, where, items))


def _line(item: ET.Element, position: int, purpose: str | None, where: str, problems: list[str]) -> dict[str, Any]:
    ident = _text(item, "ID") or ""
    number = ord(ident) - 64 if len(ident) == 1 and ident.isalpha() and ident.isupper() else (int(ident) if ident.isdigit() else position)
    trade = _child(item, "IncludedSupplyChainTradeLineItem")
    product = _child(trade, "SpecifiedTradeProduct")
    quantity_element = _child(item, "TransportLogisticsPackage/ItemQuantity")
    here = f"{where}: {_ITEM}[{ident or position}]"
    taxon = _text(product, "ScientificName")
    if taxon is None:
        problems.append(f"{here}: box 7 IncludedSupplyChainTradeLineItem/SpecifiedTradeProduct/ScientificName is missing")
    quantity = _text(quantity_element)
    if quantity is None:
        problems.append(f"{here}: box 11 TransportLogisticsPackage/ItemQuantity is missing")
    unit = (quantity_element.get("unitCode") or "").strip().upper() if quantity_element is not None else ""
    documents = {(_text(d, "TypeCode") or ""): _text(d, "ID") for d in _children(item, "AssociatedReferencedDocument")}
    line = {
        "line": number, "taxon": taxon, "appendix": _text(trade, "TypeCode"), "term": _text(product, "TypeCode"),
        "purpose": purpose, "source": _text(trade, "TypeExtensionCode"), "quantity": quantity,
        "unit": None if unit in ("", "?", "NAR") else unit, "country_of_origin": _text(item, "OriginTradeCountry/ID"),
        # box 12 (origin permit) or, failing that, box 12a (last re-export certificate)
        "origin_permit": documents.get(_ORIGIN_DOC) or documents.get(_REEXPORT_DOC),
    }
    return {k: v for k, v in line.items() if v is not None}


def _describe(loc: tuple, where: str, items: list[ET.Element]) -> str:
    if len(loc) >= 3 and loc[0] == "lines" and isinstance(loc[1], int):
        box, element = _LINE_BOXES.get(str(loc[2]), ("7-12", str(loc[2])))
        ident = _text(items[loc[1]], "ID") if loc[1] < len(items) else None
        return f"{where}: {_ITEM}[{ident or loc[1] + 1}]: box {box} {element}"
    if loc and loc[0] in _BOXES:
        box, element = _BOXES[loc[0]]
        if len(loc) > 1:
            element += "/PostalTradeAddress/CountryID" if loc[1] == "country" else f"/{loc[1]}"
        return f"{where}: box {box} {element}"
    return f"{where}: {'.'.join(map(str, loc)) or 'permit'}"


# -- writing --------------------------------------------------------------------------------------


def permit_to_epermit_xml(permit: Permit) -> str:
    """A CITESEPermit (v2) document for `permit`; parsing it gives back the same Permit.

    The e-permit carries one purpose per document, so lines with different purposes cannot be
    written; status and quantities used are registry data, not part of the document.
    """
    purposes = {line.purpose for line in permit.lines}
    if len(purposes) > 1:
        raise PermitImportError(f"permit {permit.number}: box 5a holds one purpose per e-permit, lines have {sorted(map(str, purposes))}")
    ET.register_namespace("urn", NS_V2)
    ET.register_namespace("urn1", NS_RABIE)
    root = ET.Element(f"{{{NS_V2}}}CITESEPermit")
    header = ET.SubElement(root, f"{{{NS_V2}}}{_HEADER}")
    _add(header, "ID", permit.number)
    _add(header, "Name", "Certificate of origin" if permit.type == "certificate_of_origin" else None)
    _add(header, "TypeCode", _TYPE_CODES[permit.type])
    _add(header, "IssueDateTime", permit.issued_on.isoformat())
    _add(header, "PurposeCode", next(iter(purposes)))
    if permit.valid_until is not None:
        period = _add(header, "EffectiveSpecifiedPeriod")
        _add(period, "StartDateTime", permit.issued_on.isoformat())
        _add(period, "EndDateTime", permit.valid_until.isoformat())
    authority = _add(_add(header, "FirstSignatoryDocumentAuthentication"), "ProviderTradeParty")
    _add(_add(authority, "PostalTradeAddress"), "CountryID", permit.issuing_country)
    consignment = ET.SubElement(root, f"{{{NS_V2}}}{_CONSIGNMENT}")
    for tag, party in (("ConsignorTradeParty", permit.exporter), ("ConsigneeTradeParty", permit.importer)):
        if party is not None:
            element = _add(consignment, tag)
            _add(element, "Name", party.name)
            address = _add(element, "PostalTradeAddress")
            _add(address, "StreetName", party.address)
            _add(address, "CountryID", party.country)
    for line in permit.lines:
        item = _add(consignment, _ITEM)
        _add(item, "ID", chr(64 + line.line) if line.line <= 26 else str(line.line))
        if line.country_of_origin:
            _add(_add(item, "OriginTradeCountry"), "ID", line.country_of_origin)
        if line.origin_permit:
            document = _add(item, "AssociatedReferencedDocument")
            _add(document, "TypeCode", _ORIGIN_DOC)
            _add(document, "ID", line.origin_permit)
        quantity = _add(_add(item, "TransportLogisticsPackage"), "ItemQuantity", _number(line.quantity))
        quantity.set("unitCode", line.unit or "NAR")
        trade = _add(item, "IncludedSupplyChainTradeLineItem")
        _add(trade, "TypeCode", line.appendix)
        _add(trade, "TypeExtensionCode", line.source)
        product = _add(trade, "SpecifiedTradeProduct")
        _add(product, "TypeCode", line.term)
        _add(product, "ScientificName", line.taxon)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True)


def _add(parent: ET.Element, name: str, text: str | None = "") -> ET.Element | None:
    if text is None:
        return None
    element = ET.SubElement(parent, f"{{{NS_RABIE}}}{name}")
    if text:
        element.text = text
    return element


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
