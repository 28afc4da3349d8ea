"""The lanes of declarations without engine notes, for whole columns at once.

Most declarations have no engine notes: `decide` then reduces to the finding lanes, the rule lanes,
the score thresholds and the random draw, and its reasons to the permit and rule entries, one model
entry and perhaps the random one. This computes exactly what `decide` and
`json.dumps(reasons, separators=(",", ":"))` give for them, without building the reason dicts;
a row it cannot reproduce exactly (a non-finite score, an unknown lane, a value JSON would not
write as a plain scalar) is left to `decide`.
"""
from __future__ import annotations

import hashlib
import math
from json.encoder import encode_basestring_ascii as _json_str  # what json.dumps uses for str (ensure_ascii)

import numpy as np

from riskengine.config import DecisionSettings
from riskengine.decision.lanes import INSPECT_LANES, LANE_SEVERITY

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


def _finding_json(finding, lane) -> str:
    return ('{"source":"permit","code":' + _scalar(finding.code) + ',"line":' + _scalar(finding.line)
            + ',"permit":' + _scalar(finding.permit) + ',"message":' + _scalar(finding.message)
            + ',"lane":' + _scalar(lane) + "}")


class _Draw:
    """`decision.lanes.random_draw` for many ids: HMAC-SHA256 (RFC 2104) with the key pads hashed once."""

    def __init__(self, salt: str) -> None:
        key = salt.encode()
        if len(key) > 64:  # SHA-256's block size
            key = hashlib.sha256(key).digest()
        key = key.ljust(64, b"\0")
        self.inner = hashlib.sha256(bytes(b ^ 0x36 for b in key))
        self.outer = hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def __call__(self, declaration_id: str) -> float:
        inner = self.inner.copy()
        inner.update(declaration_id.encode())
        outer = self.outer.copy()
        outer.update(inner.digest())
        return int.from_bytes(outer.digest()[:8], "big") / 2**64


def _hit_json(hit) -> str:
    return ('{"source":"rule","rule_id":' + _scalar(hit.rule_id) + ',"rule_version":' + _scalar(hit.rule_version)
            + ',"line":' + _scalar(hit.line) + ',"message":' + _scalar(hit.message) + ',"lane":' + _scalar(hit.lane)
            + ',"score":' + _scalar(hit.score) + "}")


def fast_decisions(ids, scores: np.ndarray | None, features, hits, eligible: np.ndarray, *,
                   settings: DecisionSettings, model_weight: float, salt: str, findings=None) -> FastDecisions:
    """`decide(findings=findings.get(i, ()), notes=(), hits=hits[i], model=ModelOutcome(scores[i], features[i]))`
    for the eligible rows (`findings`: a mapping of row to its permit findings, or None)."""
    n = len(eligible)
    out = FastDecisions(n)
    if scores is None or not eligible.any():
        return out
    rows = np.flatnonzero(eligible & np.isfinite(np.asarray(scores, dtype="float64"))).tolist()
    model_scores = np.asarray(scores, dtype="float64").tolist()
    random_lane, rate, draw = settings.random_lane, settings.random_rate, _Draw(salt)
    blue, yellow, red = settings.blue_threshold, settings.yellow_threshold, settings.red_threshold
    finding_lanes = settings.finding_lanes
    random_reason = ',{"source":"random","code":"RANDOM_SELECTION","lane":' + _json_str(random_lane) + \
        ',"message":' + _RANDOM_MESSAGE + "}"
    random_decision = "inspect" if random_lane in INSPECT_LANES else "release"
    hit_texts: dict[int, str] = {}  # by id: the hit objects stay alive for the whole call
    row_findings = (findings or {}).get
    reasons, lanes, decisions, scores_out, selections, done = (out.reasons, out.lane, out.decision, out.score,
                                                               out.random_selection, out.done)
    for i in rows:
        row_hits, found, score = hits[i], row_findings(i), model_scores[i]
        rule_score = 0.0
        for hit in row_hits:  # the same Python float arithmetic as decide, in the same order
            rule_score += hit.score or 0.0
        total = round(min(100.0, max(0.0, rule_score + score * model_weight)), 2)
        lane = "red" if total >= red else "yellow" if total >= yellow else "blue" if total >= blue else "green"
        try:
            if row_hits or found:
                severity = LANE_SEVERITY[lane]
                parts = []
                for finding in found or ():
                    finding_lane = finding_lanes.get(finding.code, "red")
                    parts.append(_finding_json(finding, finding_lane))
                    if finding_lane and LANE_SEVERITY[finding_lane] > severity:
                        lane, severity = finding_lane, LANE_SEVERITY[finding_lane]
                for hit in row_hits:
                    text = hit_texts.get(id(hit))
                    if text is None:
                        text = hit_texts[id(hit)] = _hit_json(hit)
                    parts.append(text)
                    if hit.lane and LANE_SEVERITY[hit.lane] > severity:
                        lane, severity = hit.lane, LANE_SEVERITY[hit.lane]
                lead = "[" + ",".join(parts) + ',{"source":"model","score":'
            else:
                lead = '[{"source":"model","score":'
            top = features[i]
            try:
                features_json = ",".join(map(_json_str, top))  # str (and str subclasses) only
            except TypeError:
                features_json = ",".join(map(_scalar, top))
        except (_NotPlain, KeyError, TypeError):
            continue
        text = lead + float.__repr__(round(score, 4)) + ',"top_features":[' + features_json + "]}"
        if lane in INSPECT_LANES:
            reasons[i], lanes[i], selections[i], decisions[i] = text + "]", lane, False, "inspect"
        elif draw(ids[i]) < rate:
            reasons[i], lanes[i], selections[i], decisions[i] = text + random_reason + "]", random_lane, True, \
                random_decision
        else:
            reasons[i], lanes[i], selections[i], decisions[i] = text + "]", lane, False, "release"
        scores_out[i] = total
        done[i] = True
    return out
