"""CITES code lists loaded from data/: descriptions, allowed term-unit pairs and unit conversion."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["CODE_KINDS", "CodeLists", "Unit"]

CODE_KINDS = ("purpose", "source", "term", "unit")
MEASURED = frozenset({"mass", "volume", "area", "length"})


@dataclass(frozen=True, slots=True)
class Unit:
    """A unit code with what it measures and its factor to the base unit of that dimension.

    Base units: KGM (mass), MTQ (volume), MTK (area), MTR (length). `dimension` is `count` for
    NAR (number of specimens), `piece` for counted items (PCS, ITE, SKI...) and `container` for
    packaging units (BOX, BAG...), which convert to nothing but themselves.
    """

    code: str
    description: str
    status: str
    canonical: str | None
    dimension: str
    to_base: float | None


class CodeLists:
    """Purpose, source, term and unit codes with descriptions, and the checks made on them."""

    def __init__(self, *, descriptions: dict[str, dict[str, tuple[str, str]]], units: dict[str, Unit],
                 term_units: dict[str, frozenset[str | None]]) -> None:
        self._descriptions = descriptions
        self._units = units
        self._term_units = term_units

    def is_valid_code(self, kind: str, code: str | None) -> bool:
        """Whether `code` is a known CITES code of `kind` (purpose, source, term or unit; aliases count)."""
        table = self._descriptions.get(_kind(kind))
        if table is None:
            raise ValueError(f"unknown code kind {kind!r}; expected one of {', '.join(CODE_KINDS)}")
        return code is not None and code.strip().upper() in table

    def describe(self, kind: str, code: str) -> str | None:
        """The description of a code, or None if it is unknown."""
        entry = self._descriptions.get(_kind(kind), {}).get(code.strip().upper())
        return entry[0] if entry else None

    def codes(self, kind: str, *, status: str | None = None) -> dict[str, str]:
        """Every code of a kind with its description, optionally only those with `status` (current/historical)."""
        return {c: d for c, (d, s) in self._descriptions[_kind(kind)].items() if status is None or s == status}

    def unit(self, code: str | None) -> Unit | None:
        """The unit behind a code (aliases such as KIL included); None for an unknown code."""
        if code is None or code == "":
            return self._units.get("NAR")
        return self._units.get(code.strip().upper())

    def canonical_unit(self, code: str | None) -> str | None:
        """The current code for a unit (KIL -> KGM); None means a number of specimens."""
        unit = self.unit(code)
        if unit is None:
            raise ValueError(f"unknown CITES unit code {code!r}")
        return unit.canonical

    def term_unit_allowed(self, term: str, unit: str | None) -> bool:
        """Whether `unit` can describe a quantity of `term` specimens.

        A unit of the same dimension as an allowed one counts (GRM where KGM is allowed), and a
        counted unit (PCS, ITE) counts where a number of specimens is allowed. A term absent from
        the table is not judged here (is_valid_code says whether it exists).
        """
        allowed = self._term_units.get(term.strip().upper())
        if allowed is None:
            return True
        info = self.unit(unit)
        if info is None:
            return False
        if info.canonical in allowed:
            return True
        if info.dimension in MEASURED:
            return any(self._dimension(a) == info.dimension for a in allowed)
        if info.dimension == "piece":
            return None in allowed
        return False

    def convert(self, quantity: float, from_unit: str | None, to_unit: str | None) -> float | None:
        """`quantity` in `from_unit` expressed in `to_unit`, or None when they measure different things."""
        source, target = self.unit(from_unit), self.unit(to_unit)
        if source is None or target is None:
            return None
        if source.canonical == target.canonical:
            return float(quantity)
        if source.dimension in MEASURED and source.dimension == target.dimension and source.to_base and target.to_base:
            return float(f"{quantity * source.to_base / target.to_base:.15g}")
        return None

    def _dimension(self, code: str | None) -> str | None:
        unit = self.unit(code)
        return unit.dimension if unit else None

    def __len__(self) -> int:
        return sum(len(t) for t in self._descriptions.values())


def _kind(kind: str) -> str:
    kind = kind.strip().lower()
    return kind[:-1] if kind.endswith("s") and kind[:-1] in CODE_KINDS else kind
