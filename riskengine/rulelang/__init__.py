"""The analysts' rule language: YAML rule files, a safe `when` language, two backends.

`load_rules` reads a directory into a `RuleSet`; `OnlineEvaluator` runs it through durable_rules
one declaration line at a time; `evaluate_frame` runs it over a pandas frame of many lines. Both
give the same hits for the same facts.
"""
from __future__ import annotations

from ._batch import evaluate_frame, rule_hit_rows
from ._durable import MAX_RULES_PER_SHARD, OnlineEvaluator
from ._errors import Problem, RuleError, RuleEvaluationError, RuleLoadError, RuleSyntaxError
from ._fields import FIELDS, FINDING_CODES, LIST_SEPARATOR, FieldSpec, normalise_fact
from ._loader import compile_expression, load_rules
from ._model import Example, Rule, RuleHit, RuleSet, Scope

__all__ = [
    "FIELDS", "FINDING_CODES", "LIST_SEPARATOR", "MAX_RULES_PER_SHARD", "FieldSpec", "normalise_fact",
    "load_rules", "compile_expression", "RuleSet", "Rule", "Scope", "Example", "RuleHit",
    "OnlineEvaluator", "evaluate_frame", "rule_hit_rows",
    "Problem", "RuleError", "RuleSyntaxError", "RuleLoadError", "RuleEvaluationError",
]
