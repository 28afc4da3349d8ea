"""Input lines put into the shape online validation gives them, and declarations rebuilt from lines.

Online, pydantic strips text, upper-cases country and CITES codes and resolves unit aliases before
any stage runs. Batch does the same to whole columns (each distinct value once), so a rule or the
model sees the same value whichever path a declaration took.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from riskengine.history import HISTORY_COLUMNS
from riskengine.reference.codes import canonical_unit
from riskengine.schemas import Declaration

__all__ = ["clean_records", "declaration_document", "normalise_lines", "declaration_bounds"]

_UPPER = ("importer_country", "exporter_country", "country_of_export", "country_of_destination", "country_of_origin",
          "transit_countries", "term", "purpose", "source")
_OPTIONAL_TEXT = ("transport_mode", "declarant_id", "importer_id", "importer_name", "exporter_id", "exporter_name",
                  "taxon", "country_of_origin", "unit", "currency", "term", "purpose", "source")


def _text(col: pd.Series) -> pd.Series:
    return col.astype("string").str.strip()


def _unit(value: Any) -> Any:
    try:
        return canonical_unit(value)
    except ValueError:
        return value  # left as declared: the permit checks report it as CODE_INVALID


def normalise_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns, typed and normalised as `Declaration` validation would; missing ones are NA."""
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for name, dtype in HISTORY_COLUMNS.items():
        col = frame[name].reset_index(drop=True) if name in frame.columns else pd.Series(pd.NA, index=out.index)
        if dtype == "string":
            col = _text(col)
            if name in _UPPER:
                col = col.str.upper()
            if name in _OPTIONAL_TEXT:
                col = col.mask(col == "")
            if name == "unit":
                codes, uniques = pd.factorize(col, use_na_sentinel=True)
                table = np.array([_unit(u) for u in uniques] + [None], dtype=object)
                col = pd.Series(table[codes], index=out.index).astype("string")
            if name in ("description", "transit_countries", "permits"):
                col = col.fillna("")
        elif dtype == "Int64":
            col = pd.to_numeric(col, errors="coerce").astype("Int64")
        elif dtype == "float64":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            # nanoseconds, as HISTORY_COLUMNS says: the model reads the stamps as int64 nanoseconds
            col = pd.to_datetime(col, utc=True, errors="coerce").astype("datetime64[ns, UTC]")
        out[name] = col
    out["version"] = out["version"].fillna(1)
    out["declaration_id"] = out["declaration_id"].fillna("")
    return out


def declaration_bounds(lines: pd.DataFrame) -> np.ndarray:
    """Start offsets of each declaration (id and version) in a frame whose lines of one declaration are adjacent."""
    ids = lines["declaration_id"].to_numpy(dtype=object)
    versions = lines["version"].to_numpy(dtype="int64", na_value=1)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.ones(len(ids), dtype=bool)
    change[1:] = (ids[1:] != ids[:-1]) | (versions[1:] != versions[:-1])
    return np.flatnonzero(change)


def _none(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and value != value):
        return None
    return value


def clean_records(lines: pd.DataFrame) -> list[dict[str, Any]]:
    """`to_dict("records")` with missing values as None, as `_none` makes them, built column by column."""
    columns = []
    for name in lines.columns:
        col = lines[name]
        if isinstance(col.dtype, pd.DatetimeTZDtype):
            columns.append(col.tolist())  # Timestamps, NaT kept: `_none` keeps it too
        else:
            columns.append(col.astype(object).where(col.notna(), None).tolist())
    names = list(lines.columns)
    return [dict(zip(names, values)) for values in zip(*columns)]


def declaration_document(rows: list[dict[str, Any]], *, clean: bool = False) -> dict[str, Any]:
    """The declaration JSON of its history rows: the inverse of `riskengine.history.declaration_rows`.

    `clean` rows come from `clean_records`: their missing values are None already.
    """
    head = rows[0] if clean else {k: _none(v) for k, v in rows[0].items()}
    items = []
    for raw in rows:
        row = raw if clean else {k: _none(v) for k, v in raw.items()}
        cites = {k: row[k] for k in ("term", "purpose", "source") if row.get(k) is not None}
        permits = []
        for token in (row.get("permits") or "").split(";"):
            if token:
                country, _, number = token.partition(":")
                permits.append({"issuing_country": country, "number": number})
        item = {"line": int(row["line"]), "hs_code": row["hs_code"], "description": row.get("description") or "",
                "quantity": row["quantity"], "permits": permits}
        for name in ("taxon", "country_of_origin", "unit", "net_mass_kg", "value", "currency"):
            if row.get(name) is not None:
                item[name] = row[name]
        if cites:
            item["cites"] = cites
        items.append(item)
    lodged = head["lodged_at"]
    document = {
        "declaration_id": head["declaration_id"], "version": int(head["version"]), "direction": head["direction"],
        "lodged_at": lodged.isoformat() if hasattr(lodged, "isoformat") else lodged,
        "customs_office": head["customs_office"],
        "importer": {k: head[f"importer_{k}"] for k in ("id", "name", "country") if head.get(f"importer_{k}") is not None},
        "exporter": {k: head[f"exporter_{k}"] for k in ("id", "name", "country") if head.get(f"exporter_{k}") is not None},
        "country_of_export": head["country_of_export"], "country_of_destination": head["country_of_destination"],
        "transit_countries": [c for c in (head.get("transit_countries") or "").split(";") if c],
        "items": items,
    }
    for name in ("transport_mode", "declarant_id"):
        if head.get(name) is not None:
            document[name] = head[name]
    return document


def to_declaration(rows: list[dict[str, Any]], *, clean: bool = False) -> Declaration:
    return Declaration.model_validate(declaration_document(rows, clean=clean))
