"""Lines are grouped by the rules in force on their lodging day; a line without a day gets no rule hits."""
from __future__ import annotations

import datetime as dt

import numpy as np

from riskengine.batch._stages import _active_groups
from riskengine.rulelang._model import Rule


def _rule(rule_id: str, valid_from=None, valid_to=None) -> Rule:
    return Rule(id=rule_id, title="t", rationale="r", when="true", condition=None, version="1", file="f", line=1,
                valid_from=valid_from, valid_to=valid_to)


class _Rules:
    def __init__(self, rules):
        self.rules = rules


def test_days_group_by_the_rules_in_force_and_missing_days_fall_in_no_group():
    rules = _Rules([_rule("A"), _rule("B", valid_from=dt.date(2026, 6, 1))])
    days = np.array(["2026-01-05", "2026-07-01", "NaT", "2026-01-06", "2026-08-01"], dtype="datetime64[D]")
    groups = _active_groups(rules, days)
    assert {key[0]: positions.tolist() for key, positions in groups.items()} == {
        (True, False): [0, 3], (True, True): [1, 4]}
    only = _active_groups(rules, np.array(["2026-01-05", "NaT"], dtype="datetime64[D]"))
    assert [p.tolist() for p in only.values()] == [[0]]
    whole = _active_groups(rules, np.array(["2026-01-05", "2026-01-07"], dtype="datetime64[D]"))
    assert [p.tolist() for p in whole.values()] == [[0, 1]]
