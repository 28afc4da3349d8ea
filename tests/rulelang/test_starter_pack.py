"""The shipped starter pack in rules/ and the analyst commands."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pandas as pd

from riskengine.rulelang import load_rules
from riskengine.rulelang.commands import backtest, check, render_backtest, render_examples, run_examples

RULES = Path(__file__).resolve().parents[2] / "rules"


def test_starter_pack_is_valid_and_within_durable_limits():
    assert check(RULES) == []


def test_starter_pack_has_thirty_rules_with_rationale_and_hit_and_miss_examples():
    ruleset = load_rules(RULES)
    assert len(ruleset.rules) >= 30
    assert len({r.file for r in ruleset.rules}) >= 5
    for rule in ruleset.rules:
        assert len(rule.rationale) > 40, rule.id
        assert {e.kind for e in rule.examples} == {"hit", "miss"}, rule.id


def test_every_starter_example_passes_online_and_in_batch():
    results = run_examples(RULES)
    assert results and all(r.passed for r in results), [r for r in results if not r.passed]
    assert render_examples(results).row_count == len(results)


def test_check_reports_a_broken_file_with_position(tmp_path):
    shutil.copytree(RULES, tmp_path / "rules")
    broken = tmp_path / "rules" / "anomalies.yaml"
    broken.write_text(broken.read_text().replace("item.unit_value_ratio < 0.3", "item.unit_valu_ratio < 0.3"))
    [problem] = check(tmp_path / "rules")
    assert problem.file == "anomalies.yaml" and problem.code == "unknown_field"
    assert problem.suggestion == "item.unit_value_ratio"
    assert broken.read_text().splitlines()[problem.line - 1][problem.column - 1:].startswith("item.unit_valu_ratio")


def test_backtest_reports_hits_share_hit_rate_and_change_against_baseline(tmp_path):
    history = pd.DataFrame([
        {"declaration.declaration_id": "D1", "findings": "PERMIT_EXPIRED", "fraud": 1},
        {"declaration.declaration_id": "D1", "findings": "", "fraud": 1},
        {"declaration.declaration_id": "D2", "findings": "PERMIT_EXPIRED;PERMIT_UNKNOWN", "fraud": 0},
        {"declaration.declaration_id": "D3", "findings": "", "fraud": None},
    ])
    current = load_rules(RULES)
    shutil.copytree(RULES, tmp_path / "base")
    (tmp_path / "base" / "permits.yaml").write_text(
        (RULES / "permits.yaml").read_text().replace('finding("PERMIT_EXPIRED") or ', ""))
    table = backtest(current, history, load_rules(tmp_path / "base"), on=date(2026, 6, 1)).set_index("rule_id")
    assert table.loc["PF-008", "hits"] == 2 and table.loc["PF-008", "share"] == 2 / 3
    assert table.loc["PF-008", "hit_rate"] == 0.5
    assert table.loc["PF-008", "change_hits"] == 2 and table.loc["PF-002", "change_hits"] == 0
    assert render_backtest(table.reset_index()).row_count == len(table)
