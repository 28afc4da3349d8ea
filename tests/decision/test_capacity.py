"""Capacity top-up fills an under-used inspection lane from the top released scores and never lowers a lane."""
from __future__ import annotations

import numpy as np
import pytest

from riskengine.config import DecisionSettings
from riskengine.decision.capacity import topup_thresholds
from riskengine.decision.lanes import decide
from riskengine.permits.checks import Finding


def test_threshold_selects_the_shortfall_from_the_top_of_released_scores():
    lanes = ["yellow"] * 2 + ["green"] * 98          # 2 % yellow, expected 5 %
    scores = [60, 70] + list(np.linspace(0, 49, 98))
    threshold = topup_thresholds(lanes, scores, {"yellow": 0.05})["yellow"]
    released = np.array(scores[2:])
    assert (released >= threshold).sum() == 3         # 3 more declarations of 100 reach 5 %


def test_no_threshold_when_the_lane_already_meets_its_rate_or_scores_are_zero():
    assert topup_thresholds(["yellow"] * 10 + ["green"] * 90, [50] * 10 + [10] * 90, {"yellow": 0.05}) == {}
    assert topup_thresholds(["green"] * 100, [0.0] * 100, {"yellow": 0.05}) == {}
    assert topup_thresholds([], [], {"yellow": 0.05}) == {}


def test_red_takes_its_share_first_and_yellow_continues_below_it():
    lanes = ["green"] * 100
    scores = list(range(100))
    thresholds = topup_thresholds(lanes, scores, {"red": 0.02, "yellow": 0.05})
    assert thresholds["red"] == 98 and thresholds["yellow"] == 93


SETTINGS = DecisionSettings(blue_threshold=30, yellow_threshold=50, red_threshold=75, random_rate=0.0,
                            finding_lanes={"PERMIT_PARTY_MISMATCH": "yellow"})


@pytest.mark.parametrize(("score_hit", "topup", "lane"), [(20, {"yellow": 15.0}, "yellow"), (10, {"yellow": 15.0}, "green"),
                                                           (20, {"red": 18.0, "yellow": 5.0}, "red")])
def test_topup_raises_released_declarations_at_or_above_the_threshold(score_hit, topup, lane):
    from dataclasses import dataclass

    @dataclass(frozen=True)
    class Hit:
        rule_id: str = "R"
        rule_version: str = "1"
        line: int = 1
        message: str = "m"
        lane: str | None = None
        score: float | None = None

    result = decide(declaration_id="D", findings=[], hits=[Hit(score=score_hit)], model=None, settings=SETTINGS,
                    model_weight=60, salt="s", topup=topup)
    assert result.lane == lane
    assert any(r.get("code") == "CAPACITY_TOP_UP" for r in result.reasons) is (lane != "green")


def test_topup_never_lowers_a_permit_finding():
    result = decide(declaration_id="D", findings=[Finding("PERMIT_PARTY_MISMATCH", 1, "P", "x")], hits=[], model=None,
                    settings=SETTINGS, model_weight=60, salt="s", topup={"red": 0.0001})
    assert result.lane == "yellow" and not any(r["source"] == "capacity" for r in result.reasons)
