"""The lane decision follows DESIGN.md's precedence, and random selection is fair and reproducible."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest

from riskengine.config import DecisionSettings
from riskengine.decision.lanes import ModelOutcome, StageNote, decide, random_draw
from riskengine.permits.checks import Finding

SETTINGS = DecisionSettings(
    blue_threshold=30, yellow_threshold=50, red_threshold=75, random_rate=0.0,
    finding_lanes={"PERMIT_LOST_OR_STOLEN": "red", "PERMIT_PARTY_MISMATCH": "yellow"},
)


@dataclass(frozen=True)
class Hit:
    rule_id: str
    lane: str | None = None
    score: float | None = None
    rule_version: str = "1"
    line: int = 1
    message: str = "test rule"


def run(findings=(), hits=(), model=None, notes=(), settings=SETTINGS, declaration_id="D-1"):
    return decide(declaration_id=declaration_id, findings=list(findings), hits=list(hits), model=model,
                  notes=list(notes), settings=settings, model_weight=60, salt="s")


def test_nothing_to_say_releases_green():
    result = run()
    assert (result.lane, result.decision, result.score) == ("green", "release", 0)


def test_hard_finding_beats_a_milder_rule_lane_and_a_low_score():
    result = run(findings=[Finding("PERMIT_LOST_OR_STOLEN", 1, "X", "stolen")], hits=[Hit("R1", lane="yellow")])
    assert result.lane == "red" and result.decision == "inspect"
    assert [r["source"] for r in result.reasons] == ["permit", "rule"]


def test_rule_lane_beats_a_paperwork_finding():
    result = run(findings=[Finding("PERMIT_PARTY_MISMATCH", 1, "X", "name")], hits=[Hit("R1", lane="red")])
    assert result.lane == "red"


def test_unmapped_finding_code_is_treated_as_red():
    assert run(findings=[Finding("SOMETHING_NEW", 1, None, "?")]).lane == "red"


@pytest.mark.parametrize(
    ("rule_score", "model_score", "lane"),
    [(0, 0.0, "green"), (29.99, 0.0, "green"), (30, 0.0, "blue"), (20, 0.5, "yellow"), (75, 0.0, "red"), (60, 1.0, "red")],
)
def test_total_score_of_rules_and_model_picks_the_lane(rule_score, model_score, lane):
    result = run(hits=[Hit("R1", score=rule_score)], model=ModelOutcome(model_score))
    assert result.lane == lane
    assert result.score == pytest.approx(min(100, rule_score + 60 * model_score))


def test_score_is_capped_at_100():
    assert run(hits=[Hit("R1", score=80), Hit("R2", score=80)]).score == 100


def test_a_stage_note_with_a_lane_prevents_release():
    result = run(notes=[StageNote("RULES_FAILED", "rules failed", "yellow")])
    assert result.decision == "inspect"
    assert result.reasons[-1]["code"] == "RULES_FAILED"


def test_random_selection_only_touches_would_be_released_declarations():
    always = SETTINGS.model_copy(update={"random_rate": 1.0})
    green = run(settings=always)
    assert green.random_selection and green.lane == "yellow" and green.decision == "inspect"
    red = run(findings=[Finding("PERMIT_LOST_OR_STOLEN", 1, "X", "stolen")], settings=always)
    assert not red.random_selection and red.lane == "red"


def test_random_draw_is_reproducible_and_depends_on_the_salt():
    assert random_draw("salt", "D-1") == random_draw("salt", "D-1")
    assert random_draw("salt", "D-1") != random_draw("other", "D-1")


def test_random_selection_rate_is_within_the_99_percent_binomial_interval_and_independent_of_score():
    rate, n = 0.05, 100_000
    settings = SETTINGS.model_copy(update={"random_rate": rate, "blue_threshold": 100, "yellow_threshold": 100, "red_threshold": 100})
    rng = np.random.default_rng(1)
    scores = rng.random(n) * 0.99
    selected = np.array([
        decide(declaration_id=f"SW-{i:08d}", findings=[], hits=[], model=ModelOutcome(float(s)), notes=[],
               settings=settings, model_weight=60, salt="secret").random_selection
        for i, s in enumerate(scores)
    ])
    observed = selected.mean()
    half_width = 2.5758 * math.sqrt(rate * (1 - rate) / n)
    assert abs(observed - rate) < half_width
    correlation = np.corrcoef(selected.astype(float), scores)[0, 1]
    assert abs(correlation) < 4 / math.sqrt(n)  # about 4 standard errors of a zero correlation
