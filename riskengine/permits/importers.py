"""Reading permit files (CSV, JSON lines, JSON, CITES e-permit XML) into Permit documents.

    PermitImportError(ValueError)   a file cannot be imported; `problems` lists every one found

A file imports whole or not at all: every row is checked and all problems are reported together,
each naming the file, the line (or XML element / box) and the field.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from riskengine.schemas import Permit

__all__ = ["CSV_COLUMNS", "PermitImportError", "parse_permits_csv", "parse_permits_json", "read_permits"]

CSV_COLUMNS = (
    "number", "issuing_country", "type", "issued_on", "valid_until", "status", "exporter_name",
    "exporter_country", "importer_name", "importer_country", "line", "taxon", "appendix", "term",
    "purpose", "source", "quantity", "unit", "country_of_origin", "origin_permit",
)
_OPTIONAL_CSV = ("exporter_address", "importer_address")
_HEADER = ("number", "issuing_country", "type", "issued_on", "valid_until", "status",
           "exporter_name", "exporter_country", "exporter_address", "importer_name", "importer_country", "importer_address")
_LINE = ("line", "taxon", "appendix", "term", "purpose", "source", "quantity", "unit", "country_of_origin", "origin_permit")
_SUFFIXES = (".csv", ".jsonl", ".ndjson", ".json", ".xml")


class PermitImportError(ValueError):
    """A permit file or document cannot be imported; `problems` holds one message per problem."""

    code = "PERMIT_IMPORT_INVALID"

    def __init__(self, problems: list[str] | str, *, source: str | None = None) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        self.source = source
        if len(self.problems) == 1:
            message = self.problems[0]
        else:
            head = f"{len(self.problems)} problems" + (f" in {source}" if source else "")
            message = head + ":\n  " + "\n  ".join(self.problems)
        super().__init__(message)


def read_permits(path: Path) -> Iterator[Permit]:
    """Every permit in a file, chosen by suffix: .csv, .jsonl/.ndjson, .json or .xml (CITES e-permit)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in _SUFFIXES:
        raise PermitImportError(f"{path}: unsupported file type {suffix or '(none)'!r}; expected one of {', '.join(_SUFFIXES)}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PermitImportError(f"{path}: cannot read: {exc.strerror}") from exc
    if suffix == ".xml":
        from riskengine.permits.epermit import parse_epermit_xml

        yield from parse_epermit_xml(data, source=str(path))
    elif suffix == ".csv":
        yield from parse_permits_csv(_text(data, path), source=str(path))
    else:
        yield from parse_permits_json(_text(data, path), source=str(path), lines=suffix != ".json")


def _text(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PermitImportError(f"{path}: not UTF-8 text (byte {exc.start})") from None


def _errors(exc: ValidationError, where) -> list[str]:
    """One message per pydantic error; `where(loc)` turns a location into 'file:line: field'."""
    out = []
    for error in exc.errors():
        loc = tuple(error.get("loc", ()))
        message = error["msg"].removeprefix("Value error, ")
        out.append(f"{where(loc)}: {message}")
    return out


# -- CSV ------------------------------------------------------------------------------------------


def parse_permits_csv(text: str, *, source: str = "<csv>") -> list[Permit]:
    """Permits from CSV text with one row per permit line, grouped by (issuing_country, number)."""
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in CSV_COLUMNS if c not in header]
    unknown = [c for c in header if c not in CSV_COLUMNS and c not in _OPTIONAL_CSV]
    if missing or unknown:
        problems = [f"{source}:1: missing column {c!r}" for c in missing]
        problems += [f"{source}:1: unknown column {c!r} (expected {', '.join(CSV_COLUMNS)})" for c in unknown]
        raise PermitImportError(problems, source=source)
    reader.fieldnames = header
    groups: dict[tuple[str, str], list[tuple[int, dict[str, str]]]] = {}
    for row in reader:
        row = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(row.values()):
            continue
        key = (row["issuing_country"].upper(), row["number"])
        groups.setdefault(key, []).append((reader.line_num, row))
    problems: list[str] = []
    permits: list[Permit] = []
    for rows in groups.values():
        permit, found = _csv_permit(rows, source)
        problems += found
        if permit is not None:
            permits.append(permit)
    if problems:
        raise PermitImportError(problems, source=source)
    return permits


def _csv_permit(rows: list[tuple[int, dict[str, str]]], source: str) -> tuple[Permit | None, list[str]]:
    first_line, first = rows[0]
    problems = []
    for line_no, row in rows[1:]:
        for column in _HEADER:
            if row.get(column, "") != first.get(column, ""):
                problems.append(f"{source}:{line_no}: {column}: {row.get(column, '')!r} differs from "
                                f"{first.get(column, '')!r} on line {first_line} for permit {first['number']}")
    document: dict[str, Any] = {k: first[k] for k in ("number", "issuing_country", "type", "issued_on", "valid_until", "status") if first.get(k)}
    for party in ("exporter", "importer"):
        values = {k: first.get(f"{party}_{k}", "") for k in ("name", "country", "address")}
        if any(values.values()):
            document[party] = {k: v for k, v in values.items() if v}
    document["lines"] = [{k: row[k] for k in _LINE if row.get(k)} for _, row in rows]

    def where(loc: tuple) -> str:
        if len(loc) >= 2 and loc[0] == "lines" and isinstance(loc[1], int):
            field = loc[2] if len(loc) > 2 else "line"
            return f"{source}:{rows[loc[1]][0]}: {field}"
        if loc and loc[0] in ("exporter", "importer"):
            return f"{source}:{first_line}: {loc[0]}_{loc[1] if len(loc) > 1 else 'country'}"
        return f"{source}:{first_line}: {loc[0] if loc else 'permit'}"

    try:
        permit = Permit.model_validate(document)
    except ValidationError as exc:
        return None, problems + _errors(exc, where)
    return (None if problems else permit), problems


# -- JSON -----------------------------------------------------------------------------------------


def parse_permits_json(text: str, *, source: str = "<json>", lines: bool = True) -> list[Permit]:
    """Permits from JSON lines (one document per line) or from a JSON array / {"permits": [...]}."""
    problems: list[str] = []
    documents: list[tuple[str, Any]] = []
    if lines:
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                documents.append((f"{source}:{number}", json.loads(raw)))
            except json.JSONDecodeError as exc:
                problems.append(f"{source}:{number}: invalid JSON: {exc.msg} (column {exc.colno})")
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise PermitImportError(f"{source}:{exc.lineno}: invalid JSON: {exc.msg} (column {exc.colno})") from None
        if isinstance(data, dict) and "permits" in data:
            data = data["permits"]
        items = data if isinstance(data, list) else [data]
        documents = [(f"{source}: permits[{i}]" if isinstance(data, list) else source, d) for i, d in enumerate(items)]
    permits = []
    for where_doc, document in documents:
        try:
            permits.append(Permit.model_validate(document))
        except ValidationError as exc:
            problems += _errors(exc, lambda loc, w=where_doc: f"{w}: {'.'.join(map(str, loc)) or 'permit'}")
    if problems:
        raise PermitImportError(problems, source=source)
    return permits
