"""Helpers for the rule-language tests: rule sets built from expressions, facts in both shapes."""
from __future__ import annotations

from datetime import date

import pandas as pd


from riskengine.rulelang import Rule, RuleSet, Scope, compile_expression


def make_ruleset(whens: list[str], *, lists: dict | None = None, scopes: list[Scope] | None = None,
                 validity: list[tuple[date | None, date | None]] | None = None) -> RuleSet:
    """A rule set of one rule per expression, ids R0, R1, ..."""
    lists = {k: tuple(v) for k, v in (lists or {}).items()}
    rules = []
    for i, when in enumerate(whens):
        valid_from, valid_to = validity[i] if validity else (None, None)
        rules.append(Rule(id=f"R{i}", title=f"rule {i}", rationale="test", when=when,
                          condition=compile_expression(when, lists=lists), version="1", file="t.yaml", line=i + 1,
                          scope=scopes[i] if scopes else Scope(), score=10.0,
                          valid_from=valid_from, valid_to=valid_to))
    return RuleSet(version="test", rules=rules, lists=lists)


def online_pairs(evaluator, facts: list[dict], on: date) -> list[tuple[int, str]]:
    pairs = []
    for i, fact in enumerate(facts):
        pairs.extend((i, hit.rule_id) for hit in evaluator.evaluate([fact], on=on))
    return sorted(pairs)


def batch_pairs(ruleset: RuleSet, facts: list[dict], on: date) -> list[tuple[int, str]]:
    from riskengine.rulelang import evaluate_frame
    hits = evaluate_frame(ruleset, pd.DataFrame(facts, index=range(len(facts))), on=on)
    return sorted(zip(hits["row"].tolist(), hits["rule_id"].tolist()))





