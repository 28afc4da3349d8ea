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

__all__ = ["FastDecisions", "HitCombos", "fast_decisions"]

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
    code, line, permit, message = finding.code, finding.line, finding.permit, finding.message
    if (type(code) is str and type(message) is str and type(lane) is str and (permit is None or type(permit) is str)
            and (line is None or type(line) is int)):  # the usual types, written without _scalar's checks
        return (f'{{"source":"permit","code":{_json_str(code)},"line":{"null" if line is None else int.__repr__(line)}'
                f',"permit":{"null" if permit is None else _json_str(permit)},"message":{_json_str(message)}'
                f',"lane":{_json_str(lane)}}}')
    return ('{"source":"permit","code":' + _scalar(code) + ',"line":' + _scalar(line) + ',"permit":' + _scalar(permit)
            + ',"message":' + _scalar(message) + ',"lane":' + _scalar(lane) + "}")


def _draws(salt: str, ids) -> np.ndarray:
    """`decision.lanes.random_draw` for many ids: HMAC-SHA256 (RFC 2104) with the key pads hashed once, the
    first 8 bytes of each digest read by numpy (uint64 to float64 rounds as Python's int / 2**64 does; the
    division by 2**64 is exact)."""
    key = salt.encode()
    if len(key) > 64:  # SHA-256's block size
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner_pad, outer_pad = hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))
    inner_copy, outer_copy = inner_pad.copy, outer_pad.copy
    digests = []
    for declaration_id in ids:  # a plain loop with bound methods: the digests themselves are most of the cost
        inner = inner_copy()
        inner.update(declaration_id.encode())
        outer = outer_copy()
        outer.update(inner.digest())
        digests.append(outer.digest())
    return np.frombuffer(b"".join(digests), dtype=">u8")[::4].astype("float64") / 2.0**64


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


class HitCombos:
    """The rule hits of many declarations: `combos[of[d]]` is declaration d's; `combos[0]` is no hit at all.

    Declarations share a few hundred distinct sequences of hits, so what the lane takes from hits is made
    once per sequence.
    """

    __slots__ = ("combos", "of")

    def __init__(self, combos: list[tuple], of: np.ndarray) -> None:
        self.combos, self.of = combos, of

    @classmethod
    def of_rows(cls, rows) -> "HitCombos":
        """From each declaration's sequence of hits (equal sequences of the same hit objects shared)."""
        index: dict[tuple, int] = {(): 0}
        combos: list[tuple] = [()]
        of = np.zeros(len(rows), dtype=np.int64)
        for d, row_hits in enumerate(rows):
            key = tuple(map(id, row_hits))  # the rows keep the hit objects alive
            code = index.get(key)
            if code is None:
                code = index[key] = len(combos)
                combos.append(tuple(row_hits))
            of[d] = code
        return cls(combos, of)

    def __len__(self) -> int:
        return len(self.of)

    def __getitem__(self, d: int) -> tuple:
        return self.combos[self.of[d]]


class _FeatureJson(dict):
    """The JSON list items of each tuple of top features, made on first sight; only tuples of text are kept:
    a tuple equal to one of text is one of text, while (1,), (1.0,) and (True,) are equal but write differently."""

    def __missing__(self, top):
        try:
            text = self[top] = ",".join(map(_json_str, top))  # str (and str subclasses) only
        except TypeError:
            text = _feature_text(top)
        return text


def _feature_text(top) -> str | None:
    """The JSON list items of any top features; None when json.dumps would not write them as plain scalars."""
    try:
        return ",".join(map(_json_str, top))
    except TypeError:
        try:
            return ",".join(map(_scalar, top))
        except (_NotPlain, TypeError):
            return None


def fast_decisions(ids, scores: np.ndarray | None, features, hits, eligible: np.ndarray, *,
                   settings: DecisionSettings, model_weight: float, salt: str, findings=None) -> FastDecisions:
    """`decide(findings=findings.get(i, ()), notes=(), hits=hits[i], model=ModelOutcome(scores[i], features[i]))`
    for the eligible rows (`hits`: a HitCombos or a sequence of each row's hits; `findings`: a mapping of row
    to its permit findings, or None).

    The rule score, lane and reasons of hits are made once per distinct sequence of hits, those of permit
    findings row by row; the total, the score lane, the draw and the model reason for all rows at once.
    """
    n = len(eligible)
    out = FastDecisions(n)
    if scores is None or not eligible.any():
        return out
    if not isinstance(hits, HitCombos):
        hits = HitCombos.of_rows(hits)
    model_scores = np.asarray(scores, dtype="float64")
    rows = np.flatnonzero(eligible & np.isfinite(model_scores))
    hit_texts: dict[int, str] = {}  # by id: the hit objects stay alive for the whole call
    size = len(hits.combos)
    combo_score, combo_severity, combo_ok = np.zeros(size), np.full(size, -1, dtype=np.int64), np.ones(size, dtype=bool)
    combo_text, combo_lead = [""] * size, np.empty(size, dtype=object)
    for c, combo in enumerate(hits.combos):
        try:
            combo_score[c], combo_severity[c], combo_text[c] = _lead(combo, hit_texts)
        except (_NotPlain, KeyError, TypeError):
            combo_ok[c] = False
        combo_lead[c] = "[" + (combo_text[c] + "," if combo_text[c] else "") + _MODEL
    of = hits.of[rows]
    ok, rule_scores, worst, leads = combo_ok[of], combo_score[of], combo_severity[of], combo_lead[of].tolist()
    if findings:
        finding_lanes = settings.finding_lanes
        position = np.full(n, -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        at = position[np.fromiter(findings.keys(), dtype=np.int64, count=len(findings))].tolist()
        ok_list, worst_list, of_list = ok.tolist(), worst.tolist(), of.tolist()
        finding_texts: dict[int, tuple[str, int]] = {}  # by id: findings are shared between lines, and alive here
        for found, k in zip(findings.values(), at):
            if not found or k < 0 or not ok_list[k]:
                continue
            severity, parts = worst_list[k], []
            try:
                for finding in found:  # findings lead the reasons, as in decide
                    made = finding_texts.get(id(finding))
                    if made is None:
                        finding_lane = finding_lanes.get(finding.code, "red")
                        made = finding_texts[id(finding)] = (
                            _finding_json(finding, finding_lane), LANE_SEVERITY[finding_lane] if finding_lane else -1)
                    parts.append(made[0])
                    if made[1] > severity:
                        severity = made[1]
            except (_NotPlain, KeyError, TypeError):
                ok_list[k] = False
                continue
            text = combo_text[of_list[k]]
            if text:
                parts.append(text)
            worst_list[k], leads[k] = severity, "[" + ",".join(parts) + "," + _MODEL
        ok, worst = np.array(ok_list, dtype=bool), np.array(worst_list, dtype=np.int64)
    feature_json = _FeatureJson()
    tops = features if len(rows) == len(features) else [features[i] for i in rows.tolist()]
    feature_texts = [feature_json[top] if type(top) is tuple else _feature_text(top) for top in tops]
    ok &= np.array([text is not None for text in feature_texts], dtype=bool)
    if not ok.all():
        rows, rule_scores, worst = rows[ok], rule_scores[ok], worst[ok]
        keep = np.flatnonzero(ok).tolist()
        leads, feature_texts = [leads[k] for k in keep], [feature_texts[k] for k in keep]
    model_part = model_scores[rows]
    with np.errstate(over="ignore"):  # Python's float arithmetic overflows to inf silently
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
    # a few thousand distinct scores: each written once (told apart by their bits, as -0.0 writes apart from 0.0)
    bits, at = np.unique(_rounded(model_part, 4).view(np.int64), return_inverse=True)
    score_texts = np.array([float.__repr__(v) for v in bits.view("float64").tolist()],
                           dtype=object)[at.reshape(-1)].tolist()
    reasons = [f'{lead}{score},"top_features":[{top}{random_end if chosen else "]}]"}'
               for lead, score, top, chosen in zip(leads, score_texts, feature_texts, selected.tolist())]
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
