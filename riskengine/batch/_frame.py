"""Input lines put into the shape online validation gives them, and declarations rebuilt from lines.

Online, pydantic strips text, upper-cases country and CITES codes and resolves unit aliases before
any stage runs. Batch does the same to whole columns (each distinct value once), so a rule or the
model sees the same value whichever path a declaration took.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from riskengine.history import HISTORY_COLUMNS
from riskengine.reference.codes import PURPOSE_CODES, SOURCE_CODES, TERM_CODES, canonical_unit
from riskengine.schemas import COUNTRY_CODES, Declaration

__all__ = ["certain_declarations", "clean_records", "declaration_document", "declaration_view", "normalise_lines",
           "declaration_bounds", "to_declaration"]

_UPPER = ("importer_country", "exporter_country", "country_of_export", "country_of_destination", "country_of_origin",
          "transit_countries", "term", "purpose", "source")
_OPTIONAL_TEXT = ("transport_mode", "declarant_id", "importer_id", "importer_name", "exporter_id", "exporter_name",
                  "taxon", "country_of_origin", "unit", "currency", "term", "purpose", "source")
_FILLED = ("description", "transit_countries", "permits")  # missing text read as ""


def _unit(value: Any) -> Any:
    try:
        return canonical_unit(value)
    except ValueError:
        return value  # left as declared: the permit checks report it as CODE_INVALID


def _text_column(name: str, col: pd.Series) -> pd.Series:
    """A text column normalised: stripped, upper-cased, blank as missing, units canonical, missing as ""."""
    text = col.astype("string")
    if isinstance(text.array, pd.arrays.ArrowStringArray):
        # the Arrow kernels pandas' string methods call, without pandas' ~0.2 ms per call on 50,000 lines
        values = pc.utf8_trim_whitespace(pa.array(text.array))
        if name in _UPPER:
            values = pc.utf8_upper(values)
        if name in _OPTIONAL_TEXT:
            values = pc.if_else(pc.equal(values, ""), pa.scalar(None, values.type), values)
        if name in _FILLED:
            values = pc.fill_null(values, "")
        text = pd.Series(pd.arrays.ArrowStringArray(values), index=col.index)
    else:
        text = text.str.strip()
        if name in _UPPER:
            text = text.str.upper()
        if name in _OPTIONAL_TEXT:
            text = text.mask(text == "")
        if name in _FILLED:
            text = text.fillna("")
    if name == "unit":  # each distinct unit once, its answer spread back through the codes
        codes, uniques = pd.factorize(text, use_na_sentinel=True)
        table = pd.array([_unit(u) for u in uniques], dtype=text.dtype)
        text = pd.Series(table.take(codes, allow_fill=True), index=col.index)
    return text


def normalise_lines(frame: pd.DataFrame) -> pd.DataFrame:
    """Canonical columns, typed and normalised as `Declaration` validation would; missing ones are NA."""
    index = pd.RangeIndex(len(frame))
    columns = {}
    for name, dtype in HISTORY_COLUMNS.items():
        col = frame[name].reset_index(drop=True) if name in frame.columns else pd.Series(pd.NA, index=index)
        if dtype == "string":
            col = _text_column(name, col)
        elif dtype == "Int64":
            col = pd.to_numeric(col, errors="coerce").astype("Int64")
        elif dtype == "float64":
            col = pd.to_numeric(col, errors="coerce").astype("float64")
        else:
            # nanoseconds, as HISTORY_COLUMNS says: the model reads the stamps as int64 nanoseconds
            col = pd.to_datetime(col, utc=True, errors="coerce").astype("datetime64[ns, UTC]")
        columns[name] = col
    columns["version"] = columns["version"].fillna(1)
    columns["declaration_id"] = columns["declaration_id"].fillna("")
    return pd.DataFrame(columns, index=index)


def declaration_bounds(lines: pd.DataFrame) -> np.ndarray:
    """Start offsets of each declaration (id and version) in a frame whose lines of one declaration are adjacent."""
    ids = lines["declaration_id"]
    versions = lines["version"].to_numpy(dtype="int64", na_value=1)
    if len(ids) == 0:
        return np.zeros(0, dtype=np.int64)
    change = np.ones(len(ids), dtype=bool)
    if isinstance(ids.array, pd.arrays.ArrowStringArray) and not ids.hasnans:  # compared in Arrow: no object copy
        values = pa.array(ids.array)
        change[1:] = np.asarray(pc.not_equal(values[1:], values[:-1]))
    else:
        values = ids.to_numpy(dtype=object)
        change[1:] = values[1:] != values[:-1]
    change[1:] |= versions[1:] != versions[:-1]
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


# -- declarations whose validation is certain ---------------------------------------------------------
# `to_declaration` runs pydantic over a whole document per declaration. For normalised lines the
# checks below, made once per distinct value and column, prove that validation passes and returns
# the document's own values (text already stripped and canonical); such declarations are read into
# plain objects with those values. Everything else still goes through `to_declaration`, which gives
# the exact declaration or the exact validation error, as online.

_ASCII_ID = re.compile(r"[A-Za-z0-9_./:-]{1,100}")  # inside Declaration.declaration_id's pattern
_HS = re.compile(r"[0-9]{4,10}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
_DIRECTIONS = frozenset(("import", "export", "re-export", "transit"))
_TRANSPORT = frozenset(("air", "sea", "road", "rail", "post", "pipeline", "other"))


def _stripped(value: Any, low: int, high: int) -> bool:
    """Text pydantic keeps as it is: within the length bounds, nothing to strip (Python strips every character
    Rust's trim does), and encodable (pydantic rejects lone surrogates)."""
    if not (isinstance(value, str) and low <= len(value) <= high and value.strip() == value):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _optional_text(value: Any) -> bool:
    return value is None or _stripped(value, 1, 200)


def _country_code(value: Any) -> bool:
    return isinstance(value, str) and value in COUNTRY_CODES


def _fixed_unit(value: Any) -> bool:
    if value is None:
        return True
    try:
        return isinstance(value, str) and canonical_unit(value) == value
    except ValueError:
        return False


def _permit_tokens(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    tokens = [t for t in value.split(";") if t]
    if len(tokens) > 20:
        return False
    for token in tokens:
        country, _, number = token.partition(":")
        if country not in COUNTRY_CODES or not _stripped(number, 1, 100):
            return False
    return True


def _transit_tokens(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    tokens = [c for c in value.split(";") if c]
    return len(tokens) <= 20 and all(c in COUNTRY_CODES for c in tokens)


def _each(col: pd.Series, predicate) -> np.ndarray:
    """predicate(value) per row, once per distinct value (missing values are passed as None)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)  # as stored: Arrow text needs no object copy
    table = np.array([bool(predicate(u)) for u in uniques.tolist()] + [bool(predicate(None))], dtype=bool)
    return table[codes]


_PERMITS_SURE = ("^;*(?:(?:" + "|".join(sorted(COUNTRY_CODES)) + "):[A-Za-z0-9/._-](?:[A-Za-z0-9/._ -]{0,98}"
                 "[A-Za-z0-9/._-])?(?:;+|$))*$")  # ASCII numbers, inner spaces only; one ':' a token


def _each_sure(col: pd.Series, sure: str, predicate, *, most: int | None = None) -> np.ndarray:
    """`_each(col, predicate)`, with the distinct values that match the regular expression `sure` (a set of
    values the predicate accepts; with `most`, of those with at most `most` ':') accepted in Arrow."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    try:
        texts = pa.array(uniques, type=pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # text Arrow cannot hold: lone surrogates
        return _each(col, predicate)
    matched = pc.match_substring_regex(texts, sure)
    if most is not None:
        matched = pc.and_kleene(matched, pc.less_equal(pc.count_substring(texts, ":"), most))
    accepted = matched.to_numpy(zero_copy_only=False)
    table = np.ones(len(uniques) + 1, dtype=bool)
    for k in np.flatnonzero(~accepted).tolist():
        table[k] = bool(predicate(uniques[k]))
    table[-1] = bool(predicate(None))
    return table[codes]


def _amount(col: pd.Series, *, required: bool) -> np.ndarray:
    values = col.to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(values) & (values >= 0)
    return ok if required else ok | np.isnan(values)


def certain_declarations(lines: pd.DataFrame, starts: np.ndarray) -> np.ndarray:
    """Per declaration of normalised `lines` (declaration k from starts[k]): whether `to_declaration` of its
    rows provably validates, to the rows' own values (see `declaration_view`)."""
    n = len(lines)
    if n == 0:
        return np.zeros(0, dtype=bool)
    line = lines["line"].to_numpy(dtype="float64", na_value=np.nan)
    ok = (~np.isnan(line)) & (line >= 1) & (line <= 9999)
    ok &= _each(lines["hs_code"], lambda u: isinstance(u, str) and _HS.fullmatch(u) is not None)
    ok &= _each(lines["description"], lambda u: u is None or _stripped(u, 0, 2000))
    ok &= _each(lines["taxon"], _optional_text)
    ok &= _each(lines["country_of_origin"], lambda u: u is None or _country_code(u))
    ok &= _amount(lines["quantity"], required=True)
    ok &= _amount(lines["net_mass_kg"], required=False) & _amount(lines["value"], required=False)
    ok &= _each(lines["unit"], _fixed_unit)
    ok &= _each(lines["currency"], lambda u: u is None or (isinstance(u, str) and _CURRENCY.fullmatch(u) is not None))
    for name, allowed in (("term", TERM_CODES), ("purpose", PURPOSE_CODES), ("source", SOURCE_CODES)):
        ok &= _each(lines[name], lambda u, allowed=allowed: u is None or (isinstance(u, str) and u in allowed))
    ok &= _each_sure(lines["permits"], _PERMITS_SURE, _permit_tokens, most=20)
    sizes = np.diff(np.append(starts, n))
    decl = np.repeat(np.arange(len(starts)), sizes)
    twice = pd.DataFrame({"d": decl, "l": line}).duplicated().to_numpy()
    per_decl = np.logical_and.reduceat(ok & ~twice, starts) & (sizes <= 999)
    head = lines.iloc[starts]
    lodged = head["lodged_at"]
    head_ok = lodged.notna().to_numpy() & (lodged.dt.nanosecond.fillna(1).to_numpy() == 0)
    head_ok &= _each_sure(head["declaration_id"], "^" + _ASCII_ID.pattern + "$",
                          lambda u: isinstance(u, str) and _ASCII_ID.fullmatch(u) is not None)
    head_ok &= head["version"].to_numpy(dtype="float64", na_value=np.nan) >= 1
    head_ok &= _each(head["direction"], lambda u: u in _DIRECTIONS)
    head_ok &= _each(head["customs_office"], lambda u: _stripped(u, 1, 20))
    head_ok &= _each(head["transport_mode"], lambda u: u is None or u in _TRANSPORT)
    for name in ("declarant_id", "importer_id", "importer_name", "exporter_id", "exporter_name"):
        head_ok &= _each(head[name], _optional_text)
    for name in ("importer_country", "exporter_country", "country_of_export", "country_of_destination"):
        head_ok &= _each(head[name], _country_code)
    head_ok &= _each(head["transit_countries"], _transit_tokens)
    return per_decl & head_ok


class _View:
    """A stand-in for a validated pydantic document: the same attribute names and values."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{n}={getattr(self, n)!r}' for n in self.__slots__)})"


class PartyView(_View):
    __slots__ = ("id", "name", "country")

    def __init__(self, id, name, country) -> None:  # noqa: A002 - the field's name
        self.id, self.name, self.country = id, name, country


class PermitRefView(_View):
    __slots__ = ("number", "issuing_country")

    def __init__(self, number, issuing_country) -> None:
        self.number, self.issuing_country = number, issuing_country


class CitesView(_View):
    __slots__ = ("term", "purpose", "source")

    def __init__(self, term, purpose, source) -> None:
        self.term, self.purpose, self.source = term, purpose, source


class ItemView(_View):
    __slots__ = ("line", "hs_code", "description", "taxon", "country_of_origin", "quantity", "unit", "net_mass_kg",
                 "value", "currency", "cites", "permits")

    def __init__(self, row: dict[str, Any], cites, permits) -> None:
        self.line, self.hs_code, self.description = int(row["line"]), row["hs_code"], row["description"] or ""
        self.taxon, self.country_of_origin, self.quantity = row["taxon"], row["country_of_origin"], float(row["quantity"])
        self.unit, self.net_mass_kg, self.value, self.currency = row["unit"], row["net_mass_kg"], row["value"], row["currency"]
        self.cites, self.permits = cites, permits

    @property
    def hs6(self) -> str:
        return self.hs_code[:6]


class DeclarationView(_View):
    __slots__ = ("declaration_id", "version", "direction", "lodged_at", "customs_office", "transport_mode",
                 "declarant_id", "importer", "exporter", "country_of_export", "country_of_destination",
                 "transit_countries", "items")

    def __init__(self, head: dict[str, Any], items: list[ItemView]) -> None:
        self.declaration_id, self.version, self.direction = head["declaration_id"], int(head["version"]), head["direction"]
        # a whole number of microseconds (certain_declarations): exactly the parsed isoformat, in UTC
        self.lodged_at = _EPOCH + dt.timedelta(microseconds=head["lodged_at"].value // 1000)
        self.customs_office, self.transport_mode = head["customs_office"], head["transport_mode"]
        self.declarant_id = head["declarant_id"]
        self.importer = PartyView(head["importer_id"], head["importer_name"], head["importer_country"])
        self.exporter = PartyView(head["exporter_id"], head["exporter_name"], head["exporter_country"])
        self.country_of_export, self.country_of_destination = head["country_of_export"], head["country_of_destination"]
        self.transit_countries = [c for c in (head["transit_countries"] or "").split(";") if c]
        self.items = items


def declaration_view(rows: list[dict[str, Any]]) -> DeclarationView:
    """What `to_declaration(rows, clean=True)` returns, for rows `certain_declarations` accepted."""
    items = []
    for row in rows:
        term, purpose, source = row["term"], row["purpose"], row["source"]
        cites = None if term is None and purpose is None and source is None else CitesView(term, purpose, source)
        permits = []
        if row["permits"]:
            for token in row["permits"].split(";"):
                if token:
                    country, _, number = token.partition(":")
                    permits.append(PermitRefView(number, country))
        items.append(ItemView(row, cites, permits))
    return DeclarationView(rows[0], items)
