"""Shared state of one world generation: the random generator, parties and permit serials."""
from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Sequence
from typing import TypeVar

import numpy as np

from riskengine.schemas import Party

__all__ = ["Context", "add_months"]

T = TypeVar("T")


def add_months(day: dt.date, months: int) -> dt.date:
    """The same day `months` later, clamped to the month's end (31 Aug + 6 months = 28/29 Feb)."""
    month = day.month - 1 + months
    year = day.year + month // 12
    month = month % 12 + 1
    return dt.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class Context:
    """Everything one generation draws from; a single PCG64 stream so the same seed gives the same world."""

    def __init__(self, seed: int, start: dt.date, end: dt.date) -> None:
        self.rng = np.random.Generator(np.random.PCG64(seed))
        self.start = start
        self.end = end  # exclusive
        self._party_ids: dict[tuple[str, str], str] = {}
        self._party_counts: dict[str, int] = {}
        self._serials: dict[tuple[str, int], int] = {}
        self.known_numbers: set[tuple[str, str]] = set()

    # -- draws -------------------------------------------------------------------------------
    def choice(self, items: Sequence[T]) -> T:
        return items[int(self.rng.integers(len(items)))]

    def weighted(self, items: Sequence[T], weights: Sequence[float]) -> T:
        p = np.asarray(weights, dtype=float)
        return items[int(self.rng.choice(len(items), p=p / p.sum()))]

    def chance(self, p: float) -> bool:
        return bool(self.rng.random() < p)

    def uniform(self, lo: float, hi: float) -> float:
        return float(self.rng.uniform(lo, hi))

    def day_between(self, lo: dt.date, hi: dt.date) -> dt.date:
        """A day in [lo, hi], both inclusive."""
        return lo + dt.timedelta(days=int(self.rng.integers(0, (hi - lo).days + 1)))

    def moment(self, day: dt.date) -> dt.datetime:
        """A lodging time on `day` during office hours (05:00-21:00 UTC)."""
        seconds = int(self.rng.integers(5 * 3600, 21 * 3600))
        return dt.datetime.combine(day, dt.time(), tzinfo=dt.timezone.utc) + dt.timedelta(seconds=seconds)

    # -- identities --------------------------------------------------------------------------
    def party(self, name: str, country: str, role: str = "EXP") -> Party:
        """The party `name` in `country`, with an id stable for the whole world (first role wins)."""
        key = (name, country)
        if key not in self._party_ids:
            prefix = f"{country}-{role}"
            self._party_counts[prefix] = self._party_counts.get(prefix, 0) + 1
            self._party_ids[key] = f"{prefix}-{self._party_counts[prefix]}"
        return Party(id=self._party_ids[key], name=name, country=country)

    def serial(self, country: str, year: int) -> int:
        """The next serial a Management Authority gives, with gaps for permits to other countries."""
        key = (country, year)
        if key not in self._serials:
            self._serials[key] = int(self.rng.integers(20, 900))
        self._serials[key] += int(self.rng.integers(1, 25))
        return self._serials[key]
