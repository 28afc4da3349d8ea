"""The batch fast path for declarations without engine notes gives exactly what `decide` and its JSON give."""
from __future__ import annotations

import json

import numpy as np
from hypothesis import given, settings as hyp_settings, strategies as st

from riskengine.batch._lanes import fast_decisions
from riskengine.config import DecisionSettings
from riskengine.decision.lanes import ModelOutcome, decide, random_draw
from riskengine.permits.checks import Finding
from riskengine.rulelang import RuleHit

_LANES = ["green", "blue", "yellow", "red"]
_text = st.text(max_size=20)
_thresholds = st.lists(st.floats(0, 100, allow_nan=False), min_size=3, max_size=3).map(sorted)
# scores where rounding to 2 places decides the lane, and values json cannot write as plain numbers
_score = st.one_of(st.floats(0, 1), st.sampled_from([0.0, 1.0, 0.3, 0.5, 0.75, 0.29995, 0.49995, 0.74995, 0.005, 1e-9,
                                                     -0.0, -1e-9, -0.00004]),  # rounding to -0.0: written apart from 0.0
                   st.floats(allow_nan=True, allow_infinity=True))
_hit = st.builds(RuleHit, rule_id=_text, rule_version=_text, line=st.one_of(st.none(), st.integers(1, 9999)),
                 title=_text, message=_text, lane=st.sampled_from([None, None, *_LANES]),
                 score=st.one_of(st.none(), st.floats(-50, 150), st.integers(0, 40), st.just(float("nan"))),
                 confidential=st.booleans())
_CODES = ["PERMIT_UNKNOWN", "PERMIT_EXPIRED", "TRADE_SUSPENDED", "CODE_INVALID"]
_finding = st.builds(Finding, code=st.sampled_from(_CODES), line=st.one_of(st.none(), st.integers(1, 9999)),
                     permit=st.one_of(st.none(), _text), message=_text)


@st.composite
def _cases(draw):
    blue, yellow, red = draw(_thresholds)
    decision = DecisionSettings(blue_threshold=blue, yellow_threshold=yellow, red_threshold=red,
                                random_rate=draw(st.sampled_from([0.0, 0.02, 0.5, 1.0])),
                                random_lane=draw(st.sampled_from(_LANES)),
                                finding_lanes=draw(st.dictionaries(st.sampled_from(_CODES), st.sampled_from(_LANES))))
    n = draw(st.integers(1, 20))
    column = lambda strategy: draw(st.lists(strategy, min_size=n, max_size=n))  # noqa: E731
    ids = np.array(column(st.text(min_size=1, max_size=12)), dtype=object)
    scores = np.array(column(_score), dtype="float64")
    # mostly text; numbers that compare equal but write differently; NaN, which json would not write plainly
    features = column(st.lists(st.one_of(_text, _text, _text, st.sampled_from([1, 1.0, True, 0, False, float("nan")])),
                               max_size=3).map(tuple))
    hits = column(st.lists(_hit, max_size=4))
    shared = column(st.integers(0, n - 1))  # declarations sharing one list of hit objects, as batch rules give them
    hits = [hits[j] if draw(st.booleans()) else row for row, j in zip(hits, shared)]
    eligible = np.array(column(st.booleans()))
    found = column(st.lists(_finding, max_size=3))
    found = [found[j] + row if draw(st.booleans()) else row for row, j in zip(found, shared)]  # finding objects shared
    findings = {i: f for i, f in enumerate(found) if f or draw(st.booleans())}
    weight = draw(st.sampled_from([100.0, 50.0, 1.0, 0.0, 33.3]))
    return decision, ids, scores, features, hits, eligible, weight, findings


@hyp_settings(max_examples=400, deadline=None)
@given(_cases(), st.text(max_size=8))
def test_fast_path_equals_decide_and_its_json_on_generated_declarations(case, salt):
    decision, ids, scores, features, hits, eligible, weight, findings = case
    fast = fast_decisions(ids, scores, features, hits, eligible, settings=decision, model_weight=weight, salt=salt,
                          findings=findings)
    for i in range(len(ids)):
        if not fast.done[i]:
            assert (not eligible[i] or not np.isfinite(scores[i]) or any(h.score != h.score for h in hits[i])
                    or any(f != f for f in features[i]))
            continue
        assert eligible[i]
        outcome = decide(declaration_id=ids[i], findings=findings.get(i, ()), hits=hits[i],
                         model=ModelOutcome(float(scores[i]), features[i]), notes=[], settings=decision,
                         model_weight=weight, salt=salt)
        assert (fast.lane[i], fast.decision[i], fast.random_selection[i]) == (outcome.lane, outcome.decision,
                                                                              outcome.random_selection)
        assert fast.score[i] == outcome.score and type(fast.score[i]) is type(outcome.score)
        assert fast.reasons[i] == json.dumps(outcome.reasons, separators=(",", ":"))


def test_without_model_scores_every_declaration_goes_to_decide():
    fast = fast_decisions(np.array(["a"], dtype=object), None, None, [[]], np.array([True]),
                          settings=DecisionSettings(), model_weight=100.0, salt="s")
    assert not fast.done.any()


@hyp_settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=8), st.text(min_size=20, max_size=80)), st.text(min_size=1, max_size=40))
def test_the_batch_draw_is_the_online_random_draw(salt, declaration_id):
    from riskengine.batch._lanes import _draws

    assert _draws(salt, [declaration_id, "x"]).tolist() == [random_draw(salt, declaration_id), random_draw(salt, "x")]


def test_findings_decide_the_lane_and_lead_the_reasons_on_the_fast_path():
    hit = RuleHit("R1", "1", 1, "t", "m", None, 10.0, False)
    finding = Finding("PERMIT_EXPIRED", 1, "CM/1", "export permit expired on 2026-10-31")
    decision = DecisionSettings(finding_lanes={"PERMIT_EXPIRED": "yellow"})
    fast = fast_decisions(np.array(["a"], dtype=object), np.array([0.1]), [("x",)], [[hit]], np.array([True]),
                          settings=decision, model_weight=100.0, salt="s", findings={0: [finding]})
    outcome = decide(declaration_id="a", findings=[finding], hits=[hit], model=ModelOutcome(0.1, ("x",)), notes=[],
                     settings=decision, model_weight=100.0, salt="s")
    assert fast.done[0] and fast.lane[0] == outcome.lane == "yellow"
    assert fast.reasons[0] == json.dumps(outcome.reasons, separators=(",", ":"))


@hyp_settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.floats(-2, 2), st.floats(0, 100),
                          st.integers(-10**6, 10**6).map(lambda k: k / 2e4), st.integers(0, 10**4).map(lambda k: k / 200)),
                min_size=1, max_size=30), st.sampled_from([2, 4]))
def test_column_rounding_is_python_round_to_the_bit_and_sign(values, digits):
    from riskengine.batch._lanes import _rounded

    got = _rounded(np.array(values, dtype="float64"), digits).tolist()
    assert [float.__repr__(v) for v in got] == [float.__repr__(round(v, digits)) for v in values]
