"""The batch rule hits of each declaration are those of the former hit-by-hit assembly."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from riskengine.batch._stages import _active_groups, _rule_hits
from riskengine.rulelang import FIELDS, RuleHit, compile_expression, evaluate_frame, normalise_fact
from riskengine.rulelang._model import Rule, RuleSet


def _rule(i: int, when: str, *, message=None, valid_from=None, lane=None) -> Rule:
    return Rule(id=f"R{i}", title=f"rule {i}", rationale="r", when=when, condition=compile_expression(when),
                version="1", file="f", line=i, message=message, valid_from=valid_from, lane=lane, score=5.0 + i)


def _hits_one_by_one(ruleset, facts, days, decl, n_decl) -> list[list[RuleHit]]:
    """The former assembly: a Python loop over the sorted hits, equal hits sharing one RuleHit."""
    rule_index = {rule.id: i for i, rule in enumerate(ruleset.rules)}
    groups = _active_groups(ruleset, days)
    frames = [evaluate_frame(ruleset, facts if len(groups) == 1 else facts.iloc[positions], on=on)
              for (_, on), positions in groups.items()]
    out: list[list[RuleHit]] = [[] for _ in range(n_decl)]
    hits = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["row", "rule_id"])
    if hits.empty:
        return out
    rank = np.array([rule_index[r] for r in hits["rule_id"]], dtype=np.int64)
    hits = pd.DataFrame({"row": hits["row"].to_numpy(), "rank": rank}).sort_values(["row", "rank"], kind="stable")
    line_numbers = facts["item.line"].to_numpy(dtype="float64").tolist()
    made: dict[tuple, RuleHit] = {}
    for row, rank in zip(hits["row"].tolist(), hits["rank"].tolist()):
        rule = ruleset.rules[rank]
        if rule.message:
            names = [n for n in rule.message_fields if n in FIELDS]
            message = rule.render_message(normalise_fact({n: facts[n].to_numpy()[row] for n in names}))
        else:
            message = rule.title
        line = line_numbers[row]
        line = None if line != line else int(line)
        hit = made.setdefault((rank, line, message), RuleHit(rule.id, rule.version, line, rule.title, message,
                                                             rule.lane, rule.score, rule.confidential))
        out[decl[row]].append(hit)
    return out


def test_rule_hits_per_declaration_are_those_of_the_hit_by_hit_assembly():
    rng = np.random.default_rng(3)
    n = 400
    sizes = rng.integers(1, 4, n)
    decl = np.repeat(np.arange(n), sizes)
    m = len(decl)
    line = (np.arange(m) - np.repeat(np.cumsum(sizes) - sizes, sizes) + 1).astype("float64")
    line[rng.random(m) < 0.05] = np.nan
    line[rng.random(m) < 0.05] = 1.0  # a line number twice in a declaration
    ratio = rng.choice([0.5, 2.5, 3.0, np.nan, 2.5000000001, 1e300], m)
    facts = pd.DataFrame({
        "item.line": line, "item.unit_value_ratio": ratio,
        "item.hs_code": pd.Series(rng.choice(["440349", "9601", "0507", None], m), dtype=object),
        "item.quantity": rng.choice([1.0, 10.0, np.nan], m),
    })
    rules = RuleSet(version="t", lists={}, rules=[
        _rule(0, "item.unit_value_ratio > 2", message="ratio {item.unit_value_ratio} on {item.hs_code}"),
        _rule(1, "item.quantity > 5", lane="yellow"),
        _rule(2, 'item.hs_code == "440349"', message="no placeholder"),
        _rule(3, "item.quantity > 5 or item.unit_value_ratio > 2", message="{item.quantity} {item.unknown_field}"),
        _rule(4, "item.quantity > 0", valid_from=dt.date(2026, 6, 1)),
    ])
    days = rng.choice(np.array(["2026-01-05", "2026-07-01", "NaT"], dtype="datetime64[D]"), m, p=[0.45, 0.45, 0.1])
    for lodged in (days, np.full(m, np.datetime64("2026-01-05"))):
        expected = _hits_one_by_one(rules, facts, lodged, decl, n)
        got = _rule_hits(rules, facts, lodged, decl, n)
        assert len(got) == n and any(expected)
        for d in range(n):
            assert list(got[d]) == expected[d]
