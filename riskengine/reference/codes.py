"""CITES code lists: units, purposes, sources and terms, with the historical unit aliases.

These are facts of the Convention (CITES Trade Database Guide, Annex 2/3); the descriptions and
the allowed term-unit pairs live in data/ and are loaded by `riskengine.reference`.
"""
from __future__ import annotations

__all__ = [
    "PURPOSE_CODES",
    "SOURCE_CODES",
    "TERM_CODES",
    "UNIT_ALIASES",
    "UNIT_CODES",
    "canonical_unit",
]

PURPOSE_CODES: frozenset[str] = frozenset("BEGHLMNPQSTZ")
SOURCE_CODES: frozenset[str] = frozenset("ACDFIORUWXY")

# Term codes, current and historical (a permit issued years ago may carry a retired code).
TERM_CODES: frozenset[str] = frozenset(
    {
        "BAL", "BAR", "BEL", "BOC", "BOD", "BON", "BOP", "BPR", "BUL", "CAL", "CAP", "CAR", "CAV",
        "CHP", "CLA", "CLO", "COR", "COS", "CSD", "CST", "CUL", "DER", "DPL", "EAR", "EGG", "EGL",
        "ESH", "EXT", "FEA", "FIB", "FIG", "FIN", "FLO", "FOO", "FPL", "FPS", "FPT", "FRA", "FRN",
        "FRU", "GAB", "GAL", "GAR", "GEN", "GIL", "GRS", "HAI", "HAN", "HAP", "HEA", "HOC", "HOP",
        "HOR", "HOS", "HPR", "IJW", "IVC", "IVP", "IVS", "JWL", "KEY", "KNL", "LEA", "LEG", "LIV",
        "LOG", "LPL", "LPS", "LVS", "MEA", "MED", "MUS", "OIL", "PEA", "PKY", "PLA", "PLY", "POW",
        "PRL", "PUP", "QUI", "ROO", "ROS", "RUG", "SAW", "SCA", "SCR", "SEE", "SHE", "SHO", "SID",
        "SKD", "SKE", "SKI", "SKO", "SKP", "SKS", "SKU", "SOU", "SPE", "STE", "SWI", "TAI", "TEE",
        "TIC", "TIM", "TIP", "TIS", "TRO", "TRU", "TRW", "TUS", "UNS", "VEN", "VNM", "WAL", "WAT", "WAX",
        "WHO", "WOO", "WPR",
    }
)

# Units accepted on a declaration or a permit line. The canonical codes follow UN/ECE Rec. 20 as
# CITES uses them; the aliases are the older CITES codes still found on paper permits.
UNIT_CODES: frozenset[str] = frozenset(
    {
        "KGM", "GRM", "MGM", "MYG", "TNE", "LTR", "MLT", "MTR", "CMT", "MTK", "MTQ", "CMQ", "CMK",
        "DMK", "FOT", "FTK", "FTQ", "INH", "LBR", "ONZ", "YRD",
        # counted units (a number of containers or pieces)
        "BAG", "BAK", "BOT", "BOX", "BSK", "CAN", "CAS", "CRT", "FLA", "HRN", "ITE", "PAI", "PCS",
        "SET", "SHP", "SID", "SKI",
    }
)

UNIT_ALIASES: dict[str, str] = {
    "KIL": "KGM",
    "CUM": "MTQ",
    "CCM": "CMQ",
    "SQM": "MTK",
    "SQC": "CMK",
    "SQD": "DMK",
    "SQF": "FTK",
    "CUF": "FTQ",
    "TON": "TNE",
    "CTM": "CMT",
    "FEE": "FOT",
    "INC": "INH",
    "PND": "LBR",
    "OUN": "ONZ",
    "YAR": "YRD",
}


def canonical_unit(code: str | None) -> str | None:
    """The canonical CITES unit code for `code` (aliases resolved); None means a number of specimens."""
    if code is None or code == "" or code == "NAR":
        return None
    code = code.strip().upper()
    code = UNIT_ALIASES.get(code, code)
    if code not in UNIT_CODES:
        raise ValueError(f"unknown CITES unit code {code!r}")
    return code
