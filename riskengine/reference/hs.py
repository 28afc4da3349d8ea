"""CITES-sensitive Harmonized System headings, used to screen lines that name no taxon."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

__all__ = ["HsHeading", "HsMap"]


@dataclass(frozen=True, slots=True)
class HsHeading:
    """An HS heading or subheading under which CITES specimens are commonly declared."""

    code: str
    description: str
    taxon_groups: tuple[str, ...] = ()
    terms: tuple[str, ...] = ()
    # Goods under this heading are CITES specimens as a rule (raw ivory, reptile skins, live parrots):
    # a line here that names no taxon needs a permit. Elsewhere (furniture, frozen fish) the heading
    # only makes the line worth a closer look.
    presumed: bool = False

    def to_dict(self) -> dict:
        return {"code": self.code, "description": self.description,
                "taxon_groups": list(self.taxon_groups), "terms": list(self.terms), "presumed": self.presumed}


class HsMap:
    """Longest-prefix match of a declared HS code against the sensitive headings."""

    def __init__(self, headings: Iterable[HsHeading]) -> None:
        self._by_code = {h.code: h for h in headings}
        self._lengths = sorted({len(c) for c in self._by_code}, reverse=True)

    def heading(self, hs_code: str | int) -> HsHeading | None:
        """The most specific sensitive heading `hs_code` falls under (e.g. 440349 -> 440349, 440711 -> 4407)."""
        digits = "".join(ch for ch in str(hs_code) if ch.isdigit())
        for length in self._lengths:
            if length <= len(digits):
                found = self._by_code.get(digits[:length])
                if found is not None:
                    return found
        return None

    def __len__(self) -> int:
        return len(self._by_code)

    def __iter__(self):
        return iter(self._by_code.values())
