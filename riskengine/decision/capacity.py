"""Capacity top-up: when a lane runs below its expected rate, the highest-scored released declarations fill it.

The threshold is computed from a window of recent decisions and recorded with each decision that
uses it, so a replay applies the same one. A top-up only ever raises a lane; it never lowers one
that a permit finding or a rule set.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["topup_thresholds"]

RELEASED = ("green", "blue")


def topup_thresholds(lanes: Sequence[str], scores: Sequence[float], capacity: Mapping[str, float | None]) -> dict[str, float]:
    """Score from which a released declaration is moved to each under-filled lane.

    For a lane with expected rate c whose observed share in the window is s < c, the threshold is
    the score above which the top (c - s) of all declarations among the released ones lie.
    """
    lanes = np.asarray(lanes, dtype=object)
    scores = np.asarray(scores, dtype=float)
    total = len(lanes)
    thresholds: dict[str, float] = {}
    if total == 0:
        return thresholds
    released = scores[np.isin(lanes, RELEASED)]
    taken = 0.0
    for lane in ("red", "yellow"):
        rate = capacity.get(lane)
        if not rate or released.size == 0:
            continue
        shortfall = rate - float(np.mean(lanes == lane))
        if shortfall <= 0:
            continue
        # Fill from the top of the released scores, below what a more severe lane already took.
        quantile = 1.0 - min(1.0, (shortfall + taken) * total / released.size)
        threshold = float(np.quantile(released, quantile, method="higher"))
        if threshold > 0:
            thresholds[lane] = threshold
        taken += shortfall
    return thresholds
