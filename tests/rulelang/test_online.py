"""The durable_rules online backend: sharding, de-duplication, errors, threads, reloads."""
from __future__ import annotations

import threading
from datetime import date
from pathlib import Path

import pytest

from riskengine.rulelang import MAX_RULES_PER_SHARD, OnlineEvaluator, RuleEvaluationError, Scope, load_rules
from riskengine.rulelang import _durable

from rulelang_helpers import make_ruleset

ON = date(2026, 6, 1)
REPO = Path(__file__).resolve().parents[2]


def test_a_pack_larger_than_a_shard_gives_every_hit_without_durable_errors():
    ruleset = make_ruleset([f"item.value > {i}" for i in range(3 * MAX_RULES_PER_SHARD)])
    evaluator = OnlineEvaluator(ruleset)
    assert len(evaluator._shards) == 3
    hits = evaluator.evaluate([{"item.value": 1000, "item.line": 1}], on=ON)
    assert len(hits) == 3 * MAX_RULES_PER_SHARD and {h.line for h in hits} == {1}


def test_an_or_matching_on_several_branches_hits_once():
    ruleset = make_ruleset(['item.genus in ["a", "b"] or item.genus == "a" or item.hs4 == "4403"'])
    hits = OnlineEvaluator(ruleset).evaluate([{"item.genus": "a", "item.hs4": "4403"}], on=ON)
    assert [h.rule_id for h in hits] == ["R0"]


def test_scope_and_validity_are_respected():
    ruleset = make_ruleset(["item.value > 0", "item.value > 0", "item.value > 0"],
                           scopes=[Scope(("import",), ()), Scope((), ("CHZRH",)), Scope()],
                           validity=[(None, None), (None, None), (date(2026, 7, 1), None)])
    evaluator = OnlineEvaluator(ruleset)
    fact = {"item.value": 1, "declaration.direction": "import", "declaration.customs_office": "CHGVA"}
    assert [h.rule_id for h in evaluator.evaluate([fact], on=ON)] == ["R0"]
    assert [h.rule_id for h in evaluator.evaluate([fact], on=date(2026, 7, 1))] == ["R0", "R2"]


def test_an_exception_in_an_action_is_raised_not_swallowed(monkeypatch):
    ruleset = make_ruleset(['item.description matches "x"'])
    evaluator = OnlineEvaluator(ruleset)

    def boom(fact):
        raise ValueError("guard failed")

    monkeypatch.setattr(evaluator._shards[0], "guards", [boom])
    with pytest.raises(RuleEvaluationError) as info:
        evaluator.evaluate([{"item.description": "x"}], on=ON)
    assert info.value.rule_id == "R0" and info.value.code == "action_error"
    # the session is clean afterwards
    monkeypatch.undo()
    assert len(evaluator.evaluate([{"item.description": "x"}], on=ON)) == 1


def test_threads_sharing_the_evaluator_lose_no_hits():
    ruleset = make_ruleset(["item.value > 0", 'item.genus == "Dalbergia"'])
    evaluator = OnlineEvaluator(ruleset)
    results: list[int] = []

    def work():
        for _ in range(200):
            results.append(len(evaluator.evaluate([{"item.value": 1, "item.genus": "Dalbergia"}] * 2, on=ON)))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [4] * 800


def _rss_kb() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4


def test_fifty_reloads_of_the_starter_pack_do_not_grow_memory():
    facts = [{"findings": ["PERMIT_EXPIRED"], "item.hs_code": "440349", "item.genus": "Dalbergia"}]

    def reload():
        evaluator = OnlineEvaluator(load_rules(REPO / "rules"))
        evaluator.evaluate(facts, on=ON)
        evaluator.close()

    for _ in range(5):
        reload()
    registered, before = len(_durable._REGISTERED), _rss_kb()
    for _ in range(50):
        reload()
    assert len(_durable._REGISTERED) == registered  # same content: nothing registered again
    assert _rss_kb() - before < 15_000
