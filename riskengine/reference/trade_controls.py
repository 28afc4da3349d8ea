"""Trade controls on top of the listings: trade suspensions, export quotas and Party reservations."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

from riskengine.reference.taxa import TaxonInfo, normalise_name

__all__ = ["Quota", "Reservation", "Suspension", "TradeControls"]


def _within(on: dt.date, start: dt.date | None, end: dt.date | None) -> bool:
    return (start is None or start <= on) and (end is None or on <= end)


@dataclass(frozen=True, slots=True)
class Suspension:
    """A CITES recommendation to suspend trade with `country` in a taxon (None: every listed taxon).

    Empty `sources`/`purposes` mean the suspension is not restricted to some of them.
    """

    country: str
    taxon: str | None
    sources: frozenset[str] = frozenset()
    purposes: frozenset[str] = frozenset()
    start: dt.date | None = None
    end: dt.date | None = None
    notification: str | None = None
    notes: str = ""
    excluded_taxa: tuple[str, ...] = ()

    def __str__(self) -> str:
        scope = self.taxon or "all CITES-listed species"
        text = self.notes or "all trade"
        ref = f" (Notification {self.notification})" if self.notification else ""
        return f"{scope}: {text}{ref}"


@dataclass(frozen=True, slots=True)
class Quota:
    """An export quota of `country` (None: every country) for a taxon, a year or a period."""

    country: str | None
    taxon: str
    quantity: float
    unit: str | None = None
    terms: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    purposes: tuple[str, ...] = ()
    year: int | None = None
    start: dt.date | None = None
    end: dt.date | None = None
    notes: str = ""

    @property
    def term(self) -> str | None:
        return ";".join(self.terms) or None

    @property
    def source(self) -> str | None:
        return ";".join(self.sources) or None

    def covers_year(self, year: int) -> bool:
        if self.year is not None:
            return self.year == year
        return (self.start is None or self.start.year <= year) and (self.end is None or year <= self.end.year)


@dataclass(frozen=True, slots=True)
class Reservation:
    """A Party's reservation on a listing: for that taxon it is treated as a non-Party."""

    country: str
    taxon: str
    start: dt.date | None = None
    end: dt.date | None = None
    notes: str = ""


@lru_cache(maxsize=65_536)
def _lineage_keys(lineage: tuple[str, ...], fallback: str | None) -> frozenset[str]:
    """The lookup keys of a taxon's lineage (of `fallback`, its accepted name, when the lineage is empty)."""
    keys = frozenset(normalise_name(n) for n in lineage)
    if not keys and fallback is not None:
        keys = frozenset((normalise_name(fallback),))
    return keys


class TradeControls:
    """Suspensions, quotas and reservations indexed by country for per-line checks."""

    def __init__(self, *, suspensions: Iterable[Suspension] = (), quotas: Iterable[Quota] = (),
                 reservations: Iterable[Reservation] = ()) -> None:
        self._suspensions: dict[str, list[Suspension]] = {}
        for s in suspensions:
            self._suspensions.setdefault(s.country, []).append(s)
        self._quotas: dict[str | None, list[Quota]] = {}
        for q in quotas:
            self._quotas.setdefault(q.country, []).append(q)
        self._reservations: dict[str, list[Reservation]] = {}
        for r in reservations:
            self._reservations.setdefault(r.country, []).append(r)

    def all_quotas(self) -> list[Quota]:
        """Every quota, of every country and year."""
        return [q for quotas in self._quotas.values() for q in quotas]

    def counts(self) -> dict[str, int]:
        return {
            "suspensions": sum(map(len, self._suspensions.values())),
            "quotas": sum(map(len, self._quotas.values())),
            "reservations": sum(map(len, self._reservations.values())),
        }

    def suspensions(self, taxon: TaxonInfo, country: str, *, source: str | None = None,
                    purpose: str | None = None, on: dt.date | None = None) -> list[Suspension]:
        """Suspensions in force on `on` against `country` for the taxon or any taxon above it.

        An unknown (None) source or purpose matches a restricted suspension: not knowing is no
        reason to let a suspended trade through.
        """
        on = on or dt.date.today()
        lineage = _lineage_keys(taxon.lineage, taxon.accepted_name)
        found = []
        for s in self._suspensions.get(country.strip().upper(), ()):
            if s.taxon is None:
                if taxon.appendix is None:
                    continue
            elif normalise_name(s.taxon) not in lineage:
                continue
            if any(normalise_name(x) in lineage for x in s.excluded_taxa):
                continue
            if source and s.sources and source.upper() not in s.sources:
                continue
            if purpose and s.purposes and purpose.upper() not in s.purposes:
                continue
            if _within(on, s.start, s.end):
                found.append(s)
        return found

    def quotas(self, taxon: TaxonInfo, country: str, year: int, term: str | None = None,
               source: str | None = None) -> list[Quota]:
        """Export quotas of `country` (or of every country) for the taxon or a taxon above it in `year`."""
        lineage = _lineage_keys(taxon.lineage, taxon.accepted_name)
        country = country.strip().upper()
        found = []
        for q in (*self._quotas.get(country, ()), *self._quotas.get(None, ())):
            if normalise_name(q.taxon) not in lineage or not q.covers_year(year):
                continue
            if term and q.terms and term.upper() not in q.terms:
                continue
            if source and q.sources and source.upper() not in q.sources:
                continue
            found.append(q)
        return found

    def reservations(self, taxon: TaxonInfo, country: str, on: dt.date | None = None) -> list[Reservation]:
        """Reservations `country` holds on the taxon (or a taxon above it) on `on`."""
        on = on or dt.date.today()
        lineage = _lineage_keys(taxon.lineage, None)
        return [r for r in self._reservations.get(country.strip().upper(), ())
                if normalise_name(r.taxon) in lineage and _within(on, r.start, r.end)]
