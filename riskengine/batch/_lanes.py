"""The lanes of declarations without permit findings or engine notes, for whole columns at once.

Most declarations have no permit findings and no engine notes: `decide` then reduces to the rule
lanes, the score thresholds and the random draw, and its reasons to the rule entries, one model
entry and perhaps the random one. This computes exactly what `decide` and
`json.dumps(reasons, separators=(",", ":"))` give for them, without building the reason dicts;
a row it cannot reproduce exactly (a non-finite score, an unknown lane, a value JSON would not
write as a plain scalar) is left to `decide`.
"""
from __future__ import annotations

import math
from json.encoder import encode_basestring_ascii as _json_str  # what json.dumps uses for str (ensure_ascii)

import numpy as np

from riskengine.config import DecisionSettings
from riskengine.decision.lanes import INSPECT_LANES, LANE_SEVERITY, random_draw

__all__ = ["FastDecisions", "fast_decisions"]

_RANDOM_MESSAGE = _json_str("selected at random for control (compliance measurement)")


class FastDecisions:
    """Columns of the fast-path decisions; `done[i]` is False where `decide` must run instead."""

    __slots__ = ("done", "lane", "decision", "score", "random_selection", "reasons")

    def __init__(self, n: int) -> None:
        self.done = np.zeros(n, dtype=bool)
        self.lane: list = [None] * n
        self.decision: list = [None] * n
        self.score: list = [None] * n
        self.random_selection: list = [None] * n
        self.reasons: list = [None] * n


class _NotPlain(Exception):
    """A value json.dumps would not write as a plain scalar: the row goes to `decide`."""


def _scalar(value) -> str:
    if isinstance(value, str):
        return _json_str(value)
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if type(value) is int:
        return int.__repr__(value)
    if type(value) is float and math.isfinite(value):
        return float.__repr__(value)
    raise _NotPlain


def _hit_json(hit) -> str:
    return ('{"source":"rule","rule_id":' + _scalar(hit.rule_id) + ',"rule_version":' + _scalar(hit.rule_version)
            + ',"line":' + _scalar(hit.line) + ',"message":' + _scalar(hit.message) + ',"lane":' + _scalar(hit.lane)
            + ',"score":' + _scalar(hit.score) + "}")


def _score_lanes(totals: list[float], settings: DecisionSettings) -> np.ndarray:
    total = np.asarray(totals, dtype="float64")
    lanes = np.full(len(totals), "green", dtype=object)
    lanes[total >= settings.blue_threshold] = "blue"
    lanes[total >= settings.yellow_threshold] = "yellow"
    lanes[total >= settings.red_threshold] = "red"
    return lanes


def fast_decisions(ids, scores: np.ndarray | None, features, hits, eligible: np.ndarray, *,
                   settings: DecisionSettings, model_weight: float, salt: str) -> FastDecisions:
    """`decide(findings=(), notes=(), hits=hits[i], model=ModelOutcome(scores[i], features[i]))` for the eligible rows."""
    n = len(eligible)
    out = FastDecisions(n)
    if scores is None or not eligible.any():
        return out
    rows = np.flatnonzero(eligible & np.isfinite(np.asarray(scores, dtype="float64"))).tolist()
    model_scores = np.asarray(scores, dtype="float64").tolist()
    totals = []
    for i in rows:
        rule_score = 0.0
        for hit in hits[i]:  # the same Python float arithmetic as decide, in the same order
            rule_score += hit.score or 0.0
        totals.append(round(min(100.0, max(0.0, rule_score + model_scores[i] * model_weight)), 2))
    score_lanes = _score_lanes(totals, settings).tolist()
    random_lane, rate = settings.random_lane, settings.random_rate
    random_reason = ',{"source":"random","code":"RANDOM_SELECTION","lane":' + _json_str(random_lane) + \
        ',"message":' + _RANDOM_MESSAGE + "}"
    for i, total, lane in zip(rows, totals, score_lanes):
        try:
            parts = [_hit_json(hit) for hit in hits[i]]
            features_json = ",".join(map(_scalar, features[i]))
            severity = LANE_SEVERITY[lane]
            for hit in hits[i]:
                if hit.lane and LANE_SEVERITY[hit.lane] > severity:
                    lane, severity = hit.lane, LANE_SEVERITY[hit.lane]
        except (_NotPlain, KeyError):
            continue
        parts.append('{"source":"model","score":' + float.__repr__(round(model_scores[i], 4))
                     + ',"top_features":[' + features_json + "]}")
        selected = False
        if lane not in INSPECT_LANES and random_draw(salt, ids[i]) < rate:
            selected, lane = True, random_lane
        out.reasons[i] = "[" + ",".join(parts) + (random_reason if selected else "") + "]"
        out.lane[i] = lane
        out.decision[i] = "inspect" if lane in INSPECT_LANES else "release"
        out.score[i] = total
        out.random_selection[i] = selected
        out.done[i] = True
    return out
