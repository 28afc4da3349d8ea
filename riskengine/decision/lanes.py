"""The lane decision: hard findings > rule lanes > total score > random selection (DESIGN.md).

A pure function of the stage outputs and the decision settings, so a stored decision can be
recomputed exactly from what was recorded.
"""
from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from riskengine.config import DecisionSettings

__all__ = [
    "LANE_SEVERITY",
    "LaneDecision",
    "ModelOutcome",
    "StageNote",
    "decide",
    "random_draw",
    "score_lane",
]

LANE_SEVERITY = {"green": 0, "blue": 1, "yellow": 2, "red": 3}
INSPECT_LANES = frozenset({"yellow", "red"})


@dataclass(frozen=True)
class ModelOutcome:
    """What the model said of the declaration: a 0..1 score and its plain-words explanation."""

    score: float
    top_features: tuple[str, ...] = ()
    version: str | None = None


@dataclass(frozen=True)
class StageNote:
    """Something the engine itself must say: a stage that failed or ran degraded, with the lane it forces."""

    code: str
    message: str
    lane: str | None = None


@dataclass
class LaneDecision:
    lane: str
    decision: str
    score: float
    random_selection: bool
    reasons: list[dict[str, Any]] = field(default_factory=list)


def random_draw(salt: str, declaration_id: str) -> float:
    """A uniform number in [0, 1) fixed by the secret salt and the declaration id (HMAC-SHA256)."""
    digest = hmac.new(salt.encode(), declaration_id.encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def score_lane(score: float, settings: DecisionSettings) -> str:
    if score >= settings.red_threshold:
        return "red"
    if score >= settings.yellow_threshold:
        return "yellow"
    if score >= settings.blue_threshold:
        return "blue"
    return "green"


def _most_severe(lanes: Iterable[str | None]) -> str:
    return max((lane for lane in lanes if lane), key=LANE_SEVERITY.__getitem__, default="green")


def decide(
    *,
    declaration_id: str,
    findings: Sequence[Any],
    hits: Sequence[Any],
    model: ModelOutcome | None,
    notes: Sequence[StageNote] = (),
    settings: DecisionSettings,
    model_weight: float,
    salt: str,
    topup: dict[str, float] | None = None,
) -> LaneDecision:
    """Combine permit findings, rule hits and the model score into a lane with every reason."""
    reasons: list[dict[str, Any]] = []
    lanes: list[str | None] = []
    for finding in findings:
        lane = settings.finding_lanes.get(finding.code, "red")
        lanes.append(lane)
        reasons.append(
            {"source": "permit", "code": finding.code, "line": finding.line, "permit": finding.permit,
             "message": finding.message, "lane": lane}
        )
    rule_score = 0.0
    for hit in hits:
        lanes.append(hit.lane)
        rule_score += hit.score or 0.0
        reasons.append(
            {"source": "rule", "rule_id": hit.rule_id, "rule_version": hit.rule_version, "line": hit.line,
             "message": hit.message, "lane": hit.lane, "score": hit.score}
        )
    model_points = 0.0
    if model is not None:
        model_points = model.score * model_weight
        reasons.append({"source": "model", "score": round(model.score, 4), "top_features": list(model.top_features)})
    for note in notes:
        lanes.append(note.lane)
        reasons.append({"source": "engine", "code": note.code, "message": note.message, "lane": note.lane})
    score = round(min(100.0, max(0.0, rule_score + model_points)), 2)
    lanes.append(score_lane(score, settings))
    lane = _most_severe(lanes)
    for target in ("red", "yellow"):
        threshold = (topup or {}).get(target)
        if lane not in INSPECT_LANES and threshold is not None and score >= threshold:
            lane = target
            reasons.append({"source": "capacity", "code": "CAPACITY_TOP_UP", "lane": target, "score": score,
                            "message": f"{target} lane below its expected rate; score {score:g} is among the highest released"})
    random_selection = False
    if lane not in INSPECT_LANES and random_draw(salt, declaration_id) < settings.random_rate:
        random_selection = True
        lane = settings.random_lane
        reasons.append(
            {"source": "random", "code": "RANDOM_SELECTION", "lane": lane,
             "message": "selected at random for control (compliance measurement)"}
        )
    decision = "inspect" if lane in INSPECT_LANES else "release"
    return LaneDecision(lane=lane, decision=decision, score=score, random_selection=random_selection, reasons=reasons)
