"""Property: the durable_rules backend and the batch backend give the same hits."""
from __future__ import annotations

from datetime import date, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from riskengine.rulelang import OnlineEvaluator, Scope

from rulelang_helpers import batch_pairs, make_ruleset, online_pairs

ON = date(2026, 6, 15)
STR_FIELDS = ["declaration.direction", "declaration.country_of_export", "item.hs_code", "item.genus",
              "item.description", "declaration.customs_office"]
NUM_FIELDS = ["item.value", "item.net_mass_kg", "history.permit_citations", "model_score"]
BOOL_FIELDS = ["item.cites_relevant", "history.route_seen_before"]
LIST_FIELDS = ["declaration.transit_countries", "item.permit_numbers"]
WORDS = ["AE", "CM", "4403", "440349", "Dalbergia", "plastic", "Resin gift", "import", "export", "é", ""]
LISTS = {"hubs": ["AE", "SG", "CM"], "genera": ["Dalbergia", "Pterocarpus"], "nums": [1, 2.5, 1000],
         "long": [f"X{i}" for i in range(40)] + ["AE"]}
FINDINGS = ["PERMIT_EXPIRED", "PERMIT_UNKNOWN", "PERMIT_LOST_OR_STOLEN"]


def quoted(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


numbers = st.sampled_from(["0", "1", "2.5", "1000", "0.5", "0.00001", "1e20", "3e-7"])
num_expr = st.recursive(
    st.one_of(st.sampled_from(NUM_FIELDS), numbers),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"-{e}"),
    ), max_leaves=3)
atoms = st.one_of(
    st.tuples(st.sampled_from(NUM_FIELDS), st.sampled_from(["==", "!=", "<", "<=", ">", ">="]), numbers)
      .map(" ".join),
    st.tuples(num_expr, st.sampled_from(["<", ">=", "=="]), num_expr)
      .filter(lambda t: any(f in t[0] + t[2] for f in NUM_FIELDS)).map(" ".join),
    st.tuples(st.sampled_from(STR_FIELDS), st.sampled_from(["==", "!="]), st.sampled_from(WORDS).map(quoted))
      .map(" ".join),
    st.tuples(st.sampled_from(STR_FIELDS), st.sampled_from(["==", "!="]), st.sampled_from(STR_FIELDS))
      .map(" ".join),
    st.sampled_from(BOOL_FIELDS),
    st.tuples(st.sampled_from(BOOL_FIELDS), st.sampled_from(["==", "!="]), st.sampled_from(["true", "false"]))
      .map(" ".join),
    st.tuples(st.sampled_from(STR_FIELDS), st.sampled_from(["in", "not in"]),
              st.sampled_from(['list("hubs")', 'list("genera")', 'list("long")', '["AE", "4403"]'])).map(" ".join),
    st.tuples(st.sampled_from(NUM_FIELDS), st.sampled_from(["in", "not in"]),
              st.sampled_from(['list("nums")', "[0, 1]"])).map(" ".join),
    st.tuples(st.sampled_from(LIST_FIELDS), st.just("in"), st.sampled_from(['list("hubs")', '["P1"]']))
      .map(" ".join),
    st.tuples(st.sampled_from(LIST_FIELDS), st.sampled_from(["AE", "P1"]))
      .map(lambda t: f'{t[0]} contains "{t[1]}"'),
    st.tuples(st.sampled_from(["AE", "P1"]), st.sampled_from(LIST_FIELDS)).map(lambda t: f'"{t[0]}" in {t[1]}'),
    st.tuples(st.sampled_from(STR_FIELDS), st.sampled_from(["startswith", "contains", "icontains"]),
              st.sampled_from(WORDS + ["44", "res"]).map(quoted)).map(lambda t: f"{t[0]}.{t[1]}({t[2]})"),
    st.tuples(st.sampled_from(STR_FIELDS), st.sampled_from(["matches", "imatches"]),
              st.sampled_from(["^44", "plastic|resin", "[0-9]{6}", "^$"]).map(quoted)).map(" ".join),
    st.sampled_from(FINDINGS).map(lambda c: f'finding("{c}")'),
    st.sampled_from(STR_FIELDS + NUM_FIELDS + BOOL_FIELDS + LIST_FIELDS).map(lambda f: f"missing({f})"),
)
conditions = st.recursive(
    atoms,
    lambda inner: st.one_of(
        inner.map(lambda c: f"not ({c})"),
        st.tuples(inner, st.sampled_from(["and", "or"]), inner).map(lambda t: f"({t[0]}) {t[1]} ({t[2]})"),
    ), max_leaves=5)

str_values = st.one_of(st.none(), st.sampled_from(WORDS + ["4403xx", "PLASTIC toys", "RESIN"]))
num_values = st.one_of(st.none(), st.sampled_from([0, 1, 2.5, 1000, -3, 0.5, 1e6, 1e-05, 1e300, 1e20]), st.floats(-10, 10))
bool_values = st.one_of(st.none(), st.booleans())
list_values = st.one_of(st.none(), st.lists(st.sampled_from(["AE", "SG", "P1", "P2", "ZZ"]), max_size=3))
facts = st.fixed_dictionaries({
    **{f: str_values for f in STR_FIELDS},
    **{f: num_values for f in NUM_FIELDS},
    **{f: bool_values for f in BOOL_FIELDS},
    **{f: list_values for f in LIST_FIELDS},
    "findings": st.lists(st.sampled_from(FINDINGS), max_size=2),
    "item.line": st.integers(1, 5),
})
scopes = st.builds(Scope, st.lists(st.sampled_from(["import", "export", "transit"]), max_size=2).map(tuple),
                   st.lists(st.sampled_from(["AE", "CM", "import"]), max_size=2).map(tuple))
validity = st.tuples(st.one_of(st.none(), st.integers(-2, 2).map(lambda d: ON + timedelta(d))),
                     st.one_of(st.none(), st.integers(-2, 2).map(lambda d: ON + timedelta(d))))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(whens=st.lists(conditions, min_size=1, max_size=4), data=st.data(),
       fact_list=st.lists(facts, min_size=1, max_size=6))
def test_online_and_batch_backends_give_the_same_hits(whens, data, fact_list):
    scope_list = [data.draw(scopes) for _ in whens]
    valid_list = [data.draw(validity) for _ in whens]
    ruleset = make_ruleset(whens, lists=LISTS, scopes=scope_list, validity=valid_list)
    evaluator = OnlineEvaluator(ruleset)
    try:
        assert online_pairs(evaluator, fact_list, ON) == batch_pairs(ruleset, fact_list, ON)
    finally:
        evaluator.close()


@settings(max_examples=100, deadline=None)
@given(whens=st.lists(conditions, min_size=1, max_size=3), fact_list=st.lists(facts, min_size=1, max_size=4))
def test_python_guard_matches_durable_native_condition(whens, fact_list):
    """The same rules evaluated with the whole condition as a guard give the native hits."""
    from riskengine.rulelang import _durable

    ruleset = make_ruleset(whens, lists=LISTS)
    native = OnlineEvaluator(ruleset)
    old = _durable.native
    _durable.native = lambda node, negate=False, derive=None: None
    try:
        guarded = OnlineEvaluator(ruleset)
    finally:
        _durable.native = old
    assert online_pairs(native, fact_list, ON) == online_pairs(guarded, fact_list, ON)
