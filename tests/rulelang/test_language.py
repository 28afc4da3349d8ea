"""The `when` language: parsing, None semantics, errors with positions and suggestions."""
from __future__ import annotations

import pytest

from riskengine import rulelang
from riskengine.rulelang import FIELDS, RuleSyntaxError, compile_expression, normalise_fact
from riskengine.rulelang._python import compile_python


def run(when: str, lists: dict | None = None, **facts) -> bool:
    fact = normalise_fact({k.replace("__", "."): v for k, v in facts.items()})
    return bool(compile_python(compile_expression(when, lists=lists))(fact))


def test_public_surface_is_exactly_all():
    assert sorted(rulelang.__all__) == sorted(n for n in dir(rulelang) if not n.startswith("_")
                                              and n not in {"annotations", "commands"})
    assert FIELDS["item.hs_code"].type == "str" and len(rulelang.FINDING_CODES) == 20


@pytest.mark.parametrize("when, facts, expected", [
    ('item.hs_code.startswith("4403")', {"item__hs_code": "440349"}, True),
    ('item.hs_code startswith "4403"', {"item__hs_code": "940349"}, False),
    ('item.description imatches "plastic|resin"', {"item__description": "RESIN toys"}, True),
    ('item.description matches "plastic"', {"item__description": "PLASTIC"}, False),
    ('item.description contains "gift"', {"item__description": "a gift"}, True),
    ('"AE" in declaration.transit_countries', {"declaration__transit_countries": ["QA", "AE"]}, True),
    ('declaration.transit_countries contains "AE"', {"declaration__transit_countries": "QA;AE"}, True),
    ('declaration.transit_countries in ["SG", "AE"]', {"declaration__transit_countries": ["AE"]}, True),
    ("item.value / item.net_mass_kg < 2", {"item__value": 3, "item__net_mass_kg": 2}, True),
    ("-item.value + 2 * 3 == 1", {"item__value": 5}, True),
    ('finding("PERMIT_EXPIRED") and not finding("PERMIT_UNKNOWN")', {"findings": ["PERMIT_EXPIRED"]}, True),
    ("model_score >= 0.9", {"model_score": 0.95}, True),
    ("item.cites_relevant", {"item__cites_relevant": True}, True),
    ('item.genus not in list("g")', {"item__genus": "Quercus"}, True),
])
def test_expressions_evaluate_as_written(when, facts, expected):
    assert run(when, {"g": ["Dalbergia"]}, **facts) is expected


@pytest.mark.parametrize("when", [
    "item.value > 3", "item.value != 3", "item.value == 3", "item.value + 1 > 0", "item.value / 1 >= 0",
    'item.genus == "x"', 'item.genus != "x"', 'item.genus in ["x"]', 'item.genus.startswith("")',
    'item.genus matches ".*"', "item.cites_relevant", "item.cites_relevant == false",
])
def test_any_test_on_none_is_false(when):
    assert run(when) is False


def test_not_negates_a_false_none_comparison_and_division_by_zero_is_none():
    assert run("not (item.value > 3)") is True
    assert run("item.value / 0 > 0 or item.value / 0 <= 0", item__value=1) is False
    assert run("missing(item.taxon) and missing(declaration.transit_countries)") is True


@pytest.mark.parametrize("when, code, column, suggestion", [
    ('item.hscode == "4403"', "unknown_field", 1, "item.hs_code"),
    ('item.value > 1 and finding("PERMIT_EXPRED")', "unknown_finding", 29, "PERMIT_EXPIRED"),
    ('item.genus in list("rosewod")', "unknown_list", 21, "rosewood"),
    ("item.value = 3", "unexpected_character", 12, "=="),
    ('item.value > "a"', "type_mismatch", 12, None),
    ('item.description matches "(x"', "bad_regex", 27, None),
    ("item.value > 3 and", "unexpected_token", 19, None),
    ("item.value", "not_a_condition", 1, None),
    ("findings", "findings_direct", 1, None),
])
def test_errors_carry_code_column_and_suggestion(when, code, column, suggestion):
    for _ in range(2):  # the second parse in the same process reports the same place
        with pytest.raises(RuleSyntaxError) as info:
            compile_expression(when, lists={"rosewood": ["Dalbergia"]})
        problem = info.value.problem
        assert (problem.code, problem.line, problem.column, problem.suggestion) == (code, 1, column, suggestion)
        assert isinstance(info.value, rulelang.RuleError)


def test_eval_is_never_used_on_rule_text():
    with pytest.raises(RuleSyntaxError):
        compile_expression('__import__("os").system("true")')
