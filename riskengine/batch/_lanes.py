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
_MODEL = '{"source":"model","score":'


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


def _draws(salt: str, ids) -> np.ndarray:
    """`decision.lanes.random_draw` for many ids: HMAC-SHA256 (RFC 2104) with the key pads hashed once, the
    first 8 bytes of each digest read by numpy (uint64 to float64 rounds as Python's int / 2**64 does; the
    division by 2**64 is exact)."""
    key = salt.encode()
    if len(key) > 64:  # SHA-256's block size
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_pad, outer_pad = hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))

    def digest(declaration_id: str) -> bytes:
        inner = inner_pad.copy()
        inner.update(declaration_id.encode())
        outer = outer_pad.copy()
        outer.update(inner.digest())
        return outer.digest()

    digests = b"".join([digest(i) for i in ids])
    return np.frombuffer(digests, dtype=">u8")[::4].astype("float64") / 2.0**64


def _rounded(values: np.ndarray, digits: int) -> np.ndarray:
    """round(v, digits) of each float, exactly: the double nearest the decimal of v rounded half-even.

    Where v * 10**digits is far enough from a half that its rounding error cannot matter, that decimal is
    n / 10**digits with n the nearest integer (and IEEE division rounds it as Python's strtod does);
    ties, near-ties and large values go to round() itself.
    """
    scale = 10.0 ** digits
    with np.errstate(all="ignore"):
        scaled = values * scale
        low = np.floor(scaled)
        frac = scaled - low
        out = np.copysign((low + (frac > 0.5)) / scale, values)  # round keeps the sign of a zero result
        sure = (np.abs(values) <= 1e3) & (np.abs(frac - 0.5) > 1e-6)
    for i in np.flatnonzero(~sure).tolist():
        out[i] = round(float(values[i]), digits)
    return out


def _hit_json(hit) -> str:
    return ('{"source":"rule","rule_id":' + _scalar(hit.rule_id) + ',"rule_version":' + _scalar(hit.rule_version)
            + ',"line":' + _scalar(hit.line) + ',"message":' + _scalar(hit.message) + ',"lane":' + _scalar(hit.lane)
            + ',"score":' + _scalar(hit.score) + "}")


def _lead(row_hits, hit_texts: dict) -> tuple[float, int, str]:
    """The rule score, the most severe hit lane (-1: none) and the reasons, ','-joined, of a row's hits."""
    rule_score, parts, severity = 0.0, [], -1
    for hit in row_hits:  # the same Python float arithmetic as decide, in the same order
        rule_score += hit.score or 0.0
        text = hit_texts.get(id(hit))
        if text is None:
            text = hit_texts[id(hit)] = _hit_json(hit)
        parts.append(text)
        if hit.lane and LANE_SEVERITY[hit.lane] > severity:
            severity = LANE_SEVERITY[hit.lane]
    return rule_score, severity, ",".join(parts)


_LANES = sorted(LANE_SEVERITY, key=LANE_SEVERITY.get)


def fast_decisions(ids, scores: np.ndarray | None, features, hits, eligible: np.ndarray, *,
                   settings: DecisionSettings, model_weight: float, salt: str, findings=None) -> FastDecisions:
    """`decide(findings=findings.get(i, ()), notes=(), hits=hits[i], model=ModelOutcome(scores[i], features[i]))`
    for the eligible rows (`findings`: a mapping of row to its permit findings, or None).

    The reasons of permit findings and rule hits, and the most severe of their lanes, are made row by row;
    the total, the score lane, the draw and the model reason for all rows at once.
    """
    n = len(eligible)
    out = FastDecisions(n)
    if scores is None or not eligible.any():
        return out
    model_scores = np.asarray(scores, dtype="float64")
    rows = np.flatnonzero(eligible & np.isfinite(model_scores))
    finding_lanes, row_findings = settings.finding_lanes, (findings or {}).get
    hit_texts: dict[int, str] = {}  # by id: the hit objects stay alive for the whole call
    combos: dict[tuple, tuple] = {(): (0.0, -1, "", "[" + _MODEL)}
    feature_json: dict[tuple, str] = {}
    m = len(rows)
    rule_scores, worst = [0.0] * m, [-1] * m  # worst: the most severe finding or hit lane (its severity; -1: none)
    leads, feature_texts = [""] * m, [""] * m
    ok = np.ones(m, dtype=bool)
    for k, i in enumerate(rows.tolist()):
        row_hits, found = hits[i], row_findings(i)
        try:
            combo = tuple(map(id, row_hits))  # the hit objects stay alive for the whole call
            known = combos.get(combo)
            if known is None:
                rule_score, severity, text = _lead(row_hits, hit_texts)
                known = combos[combo] = (rule_score, severity, text, "[" + text + "," + _MODEL)
            if found:
                rule_score, severity, text, _ = known
                parts = []
                for finding in found:  # findings lead the reasons, as in decide
                    finding_lane = finding_lanes.get(finding.code, "red")
                    parts.append(_finding_json(finding, finding_lane))
                    if finding_lane and LANE_SEVERITY[finding_lane] > severity:
                        severity = LANE_SEVERITY[finding_lane]
                if text:
                    parts.append(text)
                rule_scores[k], worst[k], leads[k] = rule_score, severity, "[" + ",".join(parts) + "," + _MODEL
            else:
                rule_scores[k], worst[k], _, leads[k] = known
            top = features[i]
            text = feature_json.get(top) if type(top) is tuple else None
            if text is None:
                try:
                    text = ",".join(map(_json_str, top))  # str (and str subclasses) only
                    if type(top) is tuple:  # a tuple equal to one of text is one of text
                        feature_json[top] = text
                except TypeError:
                    text = ",".join(map(_scalar, top))
            feature_texts[k] = text
        except (_NotPlain, KeyError, TypeError):
            ok[k] = False
    rule_scores, worst = np.array(rule_scores, dtype="float64"), np.array(worst, dtype=np.int64)
    rows, rule_scores, worst = rows[ok], rule_scores[ok], worst[ok]
    keep = np.flatnonzero(ok).tolist()
    leads, feature_texts = [leads[k] for k in keep], [feature_texts[k] for k in keep]
    model_part = model_scores[rows]
    summed = rule_scores + model_part * model_weight
    summed = np.where(summed > 0.0, summed, 0.0)  # max(0.0, x) and min(100.0, x), NaN included, as Python's
    total = _rounded(np.where(summed < 100.0, summed, 100.0), 2)
    severity = np.select([total >= settings.red_threshold, total >= settings.yellow_threshold,
                          total >= settings.blue_threshold], [3, 2, 1], 0)
    severity = np.maximum(severity, worst)
    lanes = np.array(_LANES, dtype=object)[severity]
    inspect = np.isin(lanes, list(INSPECT_LANES))
    selected = np.zeros(len(rows), dtype=bool)
    drawn = np.flatnonzero(~inspect)
    selected[drawn] = _draws(salt, [ids[i] for i in rows[drawn].tolist()]) < settings.random_rate
    random_lane = settings.random_lane
    random_reason = ',{"source":"random","code":"RANDOM_SELECTION","lane":' + _json_str(random_lane) + \
        ',"message":' + _RANDOM_MESSAGE + "}]"
    random_decision = "inspect" if random_lane in INSPECT_LANES else "release"
    decision = np.where(inspect, "inspect", "release").astype(object)
    decision[selected] = random_decision
    lanes[selected] = random_lane
    random_end = "]}" + random_reason
    reasons = [f'{lead}{score!r},"top_features":[{top}{random_end if chosen else "]}]"}'
               for lead, score, top, chosen in zip(leads, _rounded(model_part, 4).tolist(), feature_texts,
                                                    selected.tolist())]
    everyone = len(rows) == n  # rows are increasing: then they are 0 .. n-1
    for name, values in (("reasons", reasons), ("lane", lanes.tolist()), ("decision", decision.tolist()),
                         ("score", total.tolist()), ("random_selection", selected.tolist())):
        if everyone:
            setattr(out, name, values)
        else:
            column = getattr(out, name)
            for i, value in zip(rows.tolist(), values):
                column[i] = value
    out.done[rows] = True
    return out
