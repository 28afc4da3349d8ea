"""Loading rule files: schema, positions of errors inside YAML scalars, versions."""
from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest

from riskengine.rulelang import RuleLoadError, load_rules

RULE = """\
rules:
  - id: X-1
    title: t
    rationale: r
    when: {when}
    then: {{score: 10}}
"""


def write(tmp_path: Path, text: str, name: str = "a.yaml") -> Path:
    (tmp_path / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


def problems(directory: Path) -> list:
    with pytest.raises(RuleLoadError) as info:
        load_rules(directory)
    return info.value.problems


def test_unknown_field_in_a_folded_scalar_points_at_its_line_and_column(tmp_path):
    write(tmp_path, """\
        rules:
          - id: X-1
            title: t
            rationale: r
            when: >
              item.hs_code.startswith("4403")
              and item.hscode == "x"
            then: {score: 10}
        """)
    for _ in range(2):
        [p] = problems(tmp_path)
        assert (p.file, p.line, p.column, p.code, p.suggestion) == ("a.yaml", 7, 11, "unknown_field", "item.hs_code")
        assert str(p) == "a.yaml:7:11: unknown field 'item.hscode', did you mean 'item.hs_code'"


@pytest.mark.parametrize("when, line, column", [
    ('item.value > 1 and finding("PERMIT_EXPRED")', 5, 39),
    ('"item.value > 1 and finding(\\"PERMIT_EXPRED\\")"', 5, 41),
    ("|\n      item.value > 1\n        and finding(\"PERMIT_EXPRED\")", 7, 22),
])
def test_positions_in_plain_quoted_and_literal_scalars(tmp_path, when, line, column):
    write(tmp_path, RULE.format(when=when))
    [p] = problems(tmp_path)
    assert (p.line, p.column, p.code) == (line, column, "unknown_finding")


def test_all_problems_are_listed_with_schema_errors(tmp_path):
    write(tmp_path, """\
        rules:
          - id: X-1
            title: t
            when: item.value > 1
            then: {lane: orange}
            scop: {}
          - id: X-1
            title: t
            rationale: r
            when: item.value > 1
            then: {score: 10}
            examples:
              - hit: {item: {hscode: "4403"}}
        lists:
          l: [a]
        """)
    found = {(p.code, p.line) for p in problems(tmp_path)}
    assert found == {("missing_key", 2), ("bad_value", 5), ("unknown_key", 6), ("unknown_field", 13)}


def test_yaml_syntax_error_has_a_position(tmp_path):
    write(tmp_path, "rules:\n  - id: [\n")
    [p] = problems(tmp_path)
    assert p.code == "yaml_syntax" and p.line >= 2


@pytest.mark.parametrize("text", ["", "\n\n", "# rules to come\n"])
def test_an_empty_rule_file_is_refused_for_rules_in_force(tmp_path, text):
    write(tmp_path, RULE.format(when="item.value > 1"))
    write(tmp_path, text, "b.yaml")
    with pytest.raises(RuleLoadError) as info:
        load_rules(tmp_path, in_force=True)
    [p] = info.value.problems
    assert (p.file, p.line, p.code) == ("b.yaml", 1, "empty_file")
    assert len(load_rules(tmp_path).rules) == 1  # a stored ruleset replayed as it was


def test_rules_in_force_need_a_directory_with_rules(tmp_path):
    for directory in (tmp_path / "rulez", tmp_path):  # mistyped rules.dir, an emptied folder
        with pytest.raises(RuleLoadError) as info:
            load_rules(directory, in_force=True)
        [p] = info.value.problems
        assert p.code == "no_rules" and p.file == str(directory)
    write(tmp_path, "lists:\n  l: [a]\n")  # lists but no rule
    with pytest.raises(RuleLoadError):
        load_rules(tmp_path, in_force=True)
    assert load_rules(tmp_path).rules == []  # a backtest baseline may be empty


def test_lists_directory_and_norway(tmp_path):
    write(tmp_path, RULE.format(when='declaration.country_of_export in list("nordic")'))
    (tmp_path / "lists").mkdir()
    write(tmp_path, "nordic: [NO, SE, 12]\n", "lists/c.yaml")
    rules = load_rules(tmp_path)
    assert rules.lists["nordic"] == ("NO", "SE", 12.0)


def test_version_is_date_plus_content_hash(tmp_path):
    write(tmp_path, RULE.format(when="item.value > 1"))
    a = load_rules(tmp_path, today=date(2026, 11, 27))
    b = load_rules(tmp_path, today=date(2026, 11, 27))
    assert a.version == b.version and a.version.startswith("2026.11.27-") and len(a.version) == 17
    write(tmp_path, RULE.format(when="item.value > 2"))
    c = load_rules(tmp_path, today=date(2026, 11, 27))
    assert c.version != a.version and c.rules[0].version != a.rules[0].version
