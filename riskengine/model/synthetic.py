"""A small synthetic declaration history with planted fraud patterns, for notebooks, demos and tests."""
from __future__ import annotations

import numpy as np
import pandas as pd

from riskengine.model._mapping import CANONICAL_COLUMNS

__all__ = ["synthetic_history"]

_HS = ["440349", "440729", "010690", "030192", "050800", "121190", "420330", "960190"]
_ORIGINS = ["CM", "CD", "BR", "ID", "VN", "CN", "MG", "TH", "ZA", "PE"]
_OFFICES = ["CHZRH", "CHGVA", "CHBSL"]


def synthetic_history(n: int = 4000, *, seed: int = 0, start: str = "2025-01-01", days: int = 365,
                      inspected_share: float = 0.6) -> pd.DataFrame:
    """``n`` canonical history rows over ``days`` from ``start``; ``fraud`` is NA for uninspected lines.

    Fraud is likelier for a few importers, for some origin-HS pairs and for undervalued lines, so a
    model has something real to find.
    """
    rng = np.random.default_rng(seed)
    importers = [f"IMP-{i:03d}" for i in range(150)]
    risky_importers = set(rng.choice(importers, 12, replace=False))
    hs = rng.choice(_HS, n)
    origin = rng.choice(_ORIGINS, n)
    importer = rng.choice(importers, n, p=np.r_[np.full(100, 0.8 / 100), np.full(50, 0.2 / 50)])
    base_price = {h: float(p) for h, p in zip(_HS, rng.lognormal(3, 1, len(_HS)))}
    mass = np.round(rng.lognormal(5, 1.2, n), 1)
    undervalued = rng.random(n) < 0.08
    price = np.array([base_price[h] for h in hs]) * rng.lognormal(0, 0.3, n) * np.where(undervalued, 0.15, 1.0)
    risky_pair = np.array([(o in {"CD", "MG"} and h.startswith("44")) or (o == "VN" and h == "050800")
                           for o, h in zip(origin, hs)])
    logit = (-2.6 + 2.2 * np.isin(importer, list(risky_importers)) + 2.0 * risky_pair + 2.5 * undervalued
             + rng.normal(0, 0.5, n))
    fraud = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype("float")
    inspected = rng.random(n) < inspected_share
    lodged = pd.Timestamp(start, tz="UTC") + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D")
    frame = pd.DataFrame({
        "declaration_id": [f"SYN-{i:06d}" for i in range(n)],
        "version": 1,
        "lodged_at": lodged.floor("min"),
        "direction": "import",
        "customs_office": rng.choice(_OFFICES, n),
        "transport_mode": rng.choice(["air", "sea", "road"], n, p=[0.5, 0.3, 0.2]),
        "declarant_id": rng.choice([f"D-{i:02d}" for i in range(40)], n),
        "importer_id": importer,
        "importer_country": "CH",
        "exporter_id": [f"EXP-{o}-{k}" for o, k in zip(origin, rng.integers(0, 15, n))],
        "exporter_country": origin,
        "country_of_export": origin,
        "country_of_destination": "CH",
        "line": 1,
        "hs_code": hs,
        "country_of_origin": origin,
        "quantity": np.round(mass / 10, 1),
        "unit": "KGM",
        "net_mass_kg": mass,
        "value": np.round(price * mass, 2),
        "currency": "USD",
        "tax_rate": rng.choice([0.0, 2.5, 8.0], n),
        "fraud": pd.array(np.where(inspected, fraud, np.nan), dtype="Float64").astype("Int64"),
    })
    for column, dtype in CANONICAL_COLUMNS.items():
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index)
        frame[column] = frame[column].astype(dtype) if not dtype.startswith("datetime") else frame[column]
    return frame[list(CANONICAL_COLUMNS)]
