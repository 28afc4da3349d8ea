"""Reading the reference files (shipped data/ plus what the importer wrote) into one `Reference`.

Every file is a CSV with a header; extra columns are ignored, missing ones are an error that
names the file. Imported files extend the shipped ones and win where both describe the same
thing (a code, a taxon, a synonym, a split listing, a quota).
"""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import riskengine
from riskengine.reference.codelists import CodeLists, Unit
from riskengine.reference.errors import ReferenceDataError
from riskengine.reference.hs import HsHeading, HsMap
from riskengine.reference.taxa import LISTED, RANKS, PopulationListing, TaxonInfo, Taxonomy, TaxonRow, normalise_name
from riskengine.reference.trade_controls import Quota, Reservation, Suspension, TradeControls

__all__ = ["FILES", "Reference", "default_data_dir"]

# file name -> the columns it must have
FILES: dict[str, tuple[str, ...]] = {
    "purposes.csv": ("code", "description", "status"),
    "sources.csv": ("code", "description", "status"),
    "terms.csv": ("code", "description", "status"),
    "units.csv": ("code", "description", "status", "canonical", "dimension", "to_base"),
    "term_units.csv": ("term", "unit"),
    "taxa.csv": ("kingdom", "name", "rank", "parent", "appendix", "annotation"),
    "synonyms.csv": ("synonym", "accepted_name"),
    "populations.csv": ("name", "appendix", "countries"),
    "suspensions.csv": ("country", "taxon", "source", "purpose", "start", "end", "notes"),
    "quotas.csv": ("country", "taxon", "year", "start", "end", "quantity", "unit", "term", "source", "purpose", "notes"),
    "reservations.csv": ("country", "taxon", "start", "end", "notes"),
    "hs_headings.csv": ("heading", "description", "taxon_groups", "terms"),
}
_REQUIRED_SHIPPED = ("purposes.csv", "sources.csv", "terms.csv", "units.csv", "taxa.csv")


def default_data_dir() -> Path:
    """The repository's data/ folder, next to the installed (editable) package."""
    return Path(riskengine.__file__).resolve().parents[1] / "data"


Row = tuple[str, int, dict[str, str]]  # (file, line, row)


def _read(path: Path) -> list[Row]:
    required = FILES[path.name]
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise ReferenceDataError(f"cannot read: {exc.strerror}", path=path) from exc
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise ReferenceDataError(f"missing column(s) {', '.join(missing)}", path=path, line=1)
        rows = []
        for record in reader:
            rows.append((str(path), reader.line_num, {k: (v or "").strip() for k, v in record.items() if k}))
        return rows


def _tables(data_dir: Path, imported_dir: Path | None) -> dict[str, list[Row]]:
    for name in _REQUIRED_SHIPPED:
        if not (data_dir / name).is_file():
            raise ReferenceDataError("required reference file is missing", path=data_dir / name)
    tables: dict[str, list[Row]] = {}
    for name in FILES:
        rows = _read(data_dir / name) if (data_dir / name).is_file() else []
        if imported_dir is not None and (imported_dir / name).is_file():
            rows = _merge(name, rows, _read(imported_dir / name))
        tables[name] = rows
    return tables


def _merge(name: str, shipped: list[Row], imported: list[Row]) -> list[Row]:
    if name == "populations.csv":
        replaced = {normalise_name(r["name"]) for _, _, r in imported}
        return [row for row in shipped if normalise_name(row[2]["name"]) not in replaced] + imported
    if name == "quotas.csv":
        def key(r: dict[str, str]) -> tuple:
            return (r["country"], normalise_name(r["taxon"]), r["term"], r["source"], r["purpose"], r["year"])
        seen = {key(r) for _, _, r in imported}
        return [row for row in shipped if key(row[2]) not in seen] + imported
    # Everything else: later rows win where a key repeats (codes, taxa, synonyms) or add up.
    return shipped + imported


def _date(value: str, where: tuple[str, int], field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        raise ReferenceDataError(f"{value!r} is not a date (YYYY-MM-DD)", path=where[0], line=where[1], field=field) from None


def _codes(value: str) -> tuple[str, ...]:
    return tuple(c.strip().upper() for c in value.replace(",", ";").split(";") if c.strip())


def _build_codes(t: dict[str, list[Row]]) -> CodeLists:
    descriptions: dict[str, dict[str, tuple[str, str]]] = {}
    for kind in ("purpose", "source", "term", "unit"):
        descriptions[kind] = {r["code"].upper(): (r["description"], r["status"]) for _, _, r in t[f"{kind}s.csv"]}
    units: dict[str, Unit] = {}
    for path, line, r in t["units.csv"]:
        try:
            to_base = float(r["to_base"]) if r["to_base"] else None
        except ValueError:
            raise ReferenceDataError(f"{r['to_base']!r} is not a number", path=path, line=line, field="to_base") from None
        code = r["code"].upper()
        units[code] = Unit(code, r["description"], r["status"], r["canonical"].upper() or None, r["dimension"] or "piece", to_base)
    term_units: dict[str, set[str | None]] = {}
    for path, line, r in t["term_units.csv"]:
        unit = r["unit"].upper() or None
        if unit is not None:
            if unit not in units:
                raise ReferenceDataError(f"unknown unit {unit!r}", path=path, line=line, field="unit")
            unit = units[unit].canonical
        term_units.setdefault(r["term"].upper(), set()).add(unit)
    return CodeLists(descriptions=descriptions, units=units, term_units={k: frozenset(v) for k, v in term_units.items()})


def _build_taxonomy(t: dict[str, list[Row]]) -> Taxonomy:
    rows = []
    for path, line, r in t["taxa.csv"]:
        rank = r["rank"].upper()
        if rank not in RANKS:
            raise ReferenceDataError(f"unknown rank {r['rank']!r}", path=path, line=line, field="rank")
        appendix = r["appendix"].upper() or None
        if appendix not in (None, "NL", *LISTED):
            raise ReferenceDataError(f"appendix {r['appendix']!r} is not I, II, III, NL or empty", path=path, line=line, field="appendix")
        if not r["name"] or not r["kingdom"]:
            raise ReferenceDataError("a taxon needs a kingdom and a name", path=path, line=line, field="name")
        rows.append(TaxonRow(r["kingdom"], r["name"], rank, r["parent"] or None, appendix, r["annotation"] or None,
                             r.get("common_name") or None, origin=f"{path}:{line}"))
    synonyms = {r["synonym"]: r["accepted_name"] for _, _, r in t["synonyms.csv"]}
    populations: dict[str, list[PopulationListing]] = {}
    for path, line, r in t["populations.csv"]:
        if r["appendix"] not in LISTED:
            raise ReferenceDataError(f"appendix {r['appendix']!r} is not I, II or III", path=path, line=line, field="appendix")
        countries = frozenset(c.upper() for c in r["countries"].replace(",", " ").replace(";", " ").split())
        populations.setdefault(r["name"], []).append(PopulationListing(r["appendix"], countries, r.get("note", "")))
    return Taxonomy(rows, synonyms=synonyms, populations=populations)


def _build_controls(t: dict[str, list[Row]]) -> TradeControls:
    suspensions = [
        Suspension(r["country"].upper(), r["taxon"] or None, frozenset(_codes(r["source"])), frozenset(_codes(r["purpose"])),
                   _date(r["start"], (p, n), "start"), _date(r["end"], (p, n), "end"), r.get("notification") or None,
                   r["notes"], tuple(x.strip() for x in r.get("excluded_taxa", "").split(";") if x.strip()))
        for p, n, r in t["suspensions.csv"]
    ]
    quotas = []
    for p, n, r in t["quotas.csv"]:
        try:
            quantity = float(r["quantity"])
            year = int(r["year"]) if r["year"] else None
        except ValueError:
            raise ReferenceDataError("quantity and year must be numbers", path=p, line=n, field="quantity/year") from None
        quotas.append(Quota(r["country"].upper() or None, r["taxon"], quantity, r["unit"].upper() or None,
                            _codes(r["term"]), _codes(r["source"]), _codes(r["purpose"]), year,
                            _date(r["start"], (p, n), "start"), _date(r["end"], (p, n), "end"), r["notes"]))
    reservations = [
        Reservation(r["country"].upper(), r["taxon"], _date(r["start"], (p, n), "start"), _date(r["end"], (p, n), "end"), r["notes"])
        for p, n, r in t["reservations.csv"]
    ]
    return TradeControls(suspensions=suspensions, quotas=quotas, reservations=reservations)


def _build_hs(t: dict[str, list[Row]]) -> HsMap:
    headings = []
    for path, line, r in t["hs_headings.csv"]:
        code = r["heading"]
        if not code.isdigit() or len(code) not in (2, 4, 6, 8, 10):
            raise ReferenceDataError(f"{code!r} is not an HS heading (2-10 digits)", path=path, line=line, field="heading")
        presumed = (r.get("presumed") or "").strip().lower() in ("yes", "true", "1")
        headings.append(HsHeading(code, r["description"], tuple(g.strip() for g in r["taxon_groups"].split(";") if g.strip()),
                                  _codes(r["terms"]), presumed))
    return HsMap(headings)


class Reference:
    """All reference data the engine consults, loaded once per process and read-only afterwards."""

    def __init__(self, *, codes: CodeLists, taxonomy: Taxonomy, hs: HsMap, controls: TradeControls,
                 sources: tuple[Path, ...] = ()) -> None:
        self.codes = codes
        self.taxonomy = taxonomy
        self.hs = hs
        self.controls = controls
        self.sources = sources

    @classmethod
    def load(cls, data_dir: Path | None = None, imported_dir: Path | None = None) -> Reference:
        """Load data/ (or `data_dir`), extended and overridden by the importer's files in `imported_dir`."""
        data_dir = Path(data_dir) if data_dir is not None else default_data_dir()
        imported = Path(imported_dir) if imported_dir is not None and Path(imported_dir).is_dir() else None
        tables = _tables(data_dir, imported)
        return cls(codes=_build_codes(tables), taxonomy=_build_taxonomy(tables), hs=_build_hs(tables),
                   controls=_build_controls(tables), sources=tuple(p for p in (data_dir, imported) if p is not None))

    # -- taxa ---------------------------------------------------------------------------------

    def lookup(self, name: str) -> TaxonInfo | None:
        """The accepted taxon and the listing covering it; None if the name is unknown."""
        return self.taxonomy.lookup(name)

    def appendix_for(self, name: str, country: str | None = None) -> str | None:
        """The appendix for specimens of `name` from `country` (split listings by population)."""
        return self.taxonomy.appendix_for(name, country)

    # -- HS screening ---------------------------------------------------------------------------

    def hs_heading(self, hs_code: str | int) -> HsHeading | None:
        """The CITES-sensitive heading an HS code falls under (longest prefix), or None."""
        return self.hs.heading(hs_code)

    def is_cites_relevant_hs(self, hs_code: str | int) -> bool:
        """Whether the code falls under any CITES-sensitive heading (worth a closer look)."""
        return self.hs.heading(hs_code) is not None

    def hs_presumes_cites(self, hs_code: str | int) -> bool:
        """Whether goods under this code are CITES specimens as a rule, so a line naming no taxon needs a permit."""
        heading = self.hs.heading(hs_code)
        return heading is not None and heading.presumed

    # -- codes ------------------------------------------------------------------------------------

    def is_valid_code(self, kind: str, code: str | None) -> bool:
        return self.codes.is_valid_code(kind, code)

    def term_unit_allowed(self, term: str, unit: str | None) -> bool:
        return self.codes.term_unit_allowed(term, unit)

    def convert(self, quantity: float, from_unit: str | None, to_unit: str | None) -> float | None:
        """`quantity` converted between units of one dimension; None when not convertible (KGM -> MTQ)."""
        return self.codes.convert(quantity, from_unit, to_unit)

    # -- trade controls ---------------------------------------------------------------------------

    def suspensions(self, taxon: TaxonInfo | str, country: str, *, source: str | None = None,
                    purpose: str | None = None, on: dt.date | None = None) -> list[Suspension]:
        info = self._taxon(taxon)
        return [] if info is None else self.controls.suspensions(info, country, source=source, purpose=purpose, on=on)

    def quotas(self, taxon: TaxonInfo | str, country: str, year: int, term: str | None = None,
               source: str | None = None) -> list[Quota]:
        info = self._taxon(taxon)
        return [] if info is None else self.controls.quotas(info, country, year, term=term, source=source)

    def reservations(self, taxon: TaxonInfo | str, country: str, on: dt.date | None = None) -> list[Reservation]:
        info = self._taxon(taxon)
        return [] if info is None else self.controls.reservations(info, country, on)

    def _taxon(self, taxon: TaxonInfo | str) -> TaxonInfo | None:
        return self.lookup(taxon) if isinstance(taxon, str) else taxon

    def summary(self) -> dict[str, Any]:
        """Counts of what was loaded, for `riskengine init` and health output."""
        return {"taxa": len(self.taxonomy), "listed_taxa": self.taxonomy.count_listed(), "codes": len(self.codes),
                "hs_headings": len(self.hs), **self.controls.counts(), "sources": [str(p) for p in self.sources]}
