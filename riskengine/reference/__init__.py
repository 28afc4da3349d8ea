"""CITES reference data: code lists, listings and taxonomy, HS screening map, trade controls.

`Reference.load()` reads the shipped data/ folder, extended by what `import_wcmc` wrote from the
UNEP-WCMC exports. Everything here is read-only once loaded and safe to share between threads.
"""
from __future__ import annotations

from riskengine.reference.codelists import CodeLists, Unit
from riskengine.reference.codes import (
    PURPOSE_CODES,
    SOURCE_CODES,
    TERM_CODES,
    UNIT_ALIASES,
    UNIT_CODES,
    canonical_unit,
)
from riskengine.reference.errors import ReferenceDataError
from riskengine.reference.hs import HsHeading
from riskengine.reference.loader import Reference, default_data_dir
from riskengine.reference.taxa import PopulationListing, TaxonInfo, normalise_name
from riskengine.reference.trade_controls import Quota, Reservation, Suspension

__all__ = [
    "PURPOSE_CODES",
    "SOURCE_CODES",
    "TERM_CODES",
    "UNIT_ALIASES",
    "UNIT_CODES",
    "CodeLists",
    "HsHeading",
    "ImportReport",
    "PopulationListing",
    "Quota",
    "Reference",
    "ReferenceDataError",
    "Reservation",
    "Suspension",
    "TaxonInfo",
    "Unit",
    "canonical_unit",
    "default_data_dir",
    "import_wcmc",
    "normalise_name",
]


def __getattr__(name: str):
    # The importer pulls in pandas; load it only when someone imports.
    if name in ("import_wcmc", "ImportReport"):
        from riskengine.reference import wcmc

        return getattr(wcmc, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
