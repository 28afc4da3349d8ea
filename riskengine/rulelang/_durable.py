"""The online backend: rules compiled to durable_rules and evaluated one declaration line at a time.

Measured traps of durable-rules 2.0.28 this module is shaped around:
- events (`post`) fire only the first matching rule, so each line is asserted as a fact and
  retracted again, on the one default session of a process-wide host;
- the host's background dispatch threads would race our synchronous calls, so the host runs none;
- a condition that matches the session state (a bare `$neq`/`$nex`) loops for ever, so every
  condition requires the fact's `_id`;
- an `$or` fires its action once per matching branch and fails with error 303 past 64 matching
  branches: hits are de-duplicated and a rule's native condition is kept to MAX_ALTERNATIVES;
- large rulesets hang and re-registration leaks: a pack is split into shards of at most
  MAX_RULES_PER_SHARD rules, each registered once per process under its content hash and reused;
- exceptions in actions are swallowed into the session state: actions catch everything, and the
  evaluator re-raises after the call;
- its JSON parser refuses numbers such as 1e-05 (error 204): facts and definitions are written by
  `to_json`, and the C calls are made directly rather than through engine.Host.
Every rule runs as one durable condition. A test durable cannot express (regex, text predicates,
arithmetic, long lists) becomes a derived bool key of the fact, computed in Python before the
assert, so actions fire only on real hits. A compiled Python guard, evaluated in the action, is
kept for what is left over (scopes with many offices).
"""
from __future__ import annotations

import hashlib
import json
import math
import threading
from decimal import Decimal
from dataclasses import dataclass
from datetime import date
from collections.abc import Callable
from typing import Any

import durable_rules_engine
from durable import engine

from ._ast import (Compare, Const, Field, Finding, InField, InList, ListConst, ListHas, Logic, Missing, Node, Not,
                   Truthy)
from ._errors import Problem, RuleEvaluationError
from ._fields import normalise_fact
from ._model import Rule, RuleHit, RuleSet
from ._python import compile_python

__all__ = ["OnlineEvaluator", "durable_problems", "plan", "MAX_RULES_PER_SHARD", "MAX_ALTERNATIVES"]

MAX_RULES_PER_SHARD = 48  # even if all matched, one call stays under durable's 64 matches
MAX_ALTERNATIVES = 32
MAX_NATIVE_LIST = 16
_NEGATE = {"==": "!=", "!=": "==", "<": ">=", "<=": ">", ">": "<=", ">=": "<"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {"!=": "$neq", "<": "$lt", "<=": "$lte", ">": "$gt", ">=": "$gte"}

_LOCK = threading.RLock()  # one host, one session: every call goes through this lock
_HOST: engine.Host | None = None
_REGISTERED: dict[str, engine.Ruleset] = {}
_CALL: "_Call | None" = None


class _QuietHost(engine.Host):
    """A host without the background dispatch threads, which would steal our actions."""

    def _run(self) -> None:
        pass


def _float_text(value: float) -> str:
    """A float as durable's JSON parser reads it: it refuses exponents without a decimal point (1e-05)."""
    text = repr(value)
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text if "." in text else text + ".0"


def to_json(value: Any) -> str:
    """JSON for durable_rules: like json.dumps, with floats written in a form durable accepts."""
    if isinstance(value, bool) or value is None or isinstance(value, (str, int)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    return "[" + ",".join(to_json(v) for v in value) + "]"


def _payload_json(payload: dict) -> str:
    """to_json for a flat payload, with the C encoder doing everything but the floats."""
    floats = [(k, v) for k, v in payload.items() if type(v) is float]
    if not floats:
        return json.dumps(payload, ensure_ascii=False)
    plain = {k: v for k, v in payload.items() if type(v) is not float}
    extra = ",".join(f'"{k}":{_float_text(v)}' for k, v in floats)
    return json.dumps(plain, ensure_ascii=False)[:-1] + "," + extra + "}"


def _register(name: str, definition: dict) -> engine.Ruleset:
    """A durable ruleset created from our own JSON (engine.Ruleset would json.dumps the floats)."""
    rules = engine.Ruleset.__new__(engine.Ruleset)
    rules._runs = {slot: body.pop("run") for slot, body in definition.items()}  # what _call runs
    rules._actions = {slot: engine.Promise(run) for slot, run in rules._runs.items()}  # what durable's own loop would
    rules._name, rules._host, rules._definition = name, _HOST, definition
    rules._handle = durable_rules_engine.create_ruleset(name, to_json(definition))
    return rules


def _call(rules: engine.Ruleset, function: Callable, text: str) -> None:
    """One assert or retract plus its actions, as durable's own `Ruleset.do_actions` runs them.

    Leaner than durable's loop, which builds a closure and a content object per action and writes the
    session state back through `json.dumps`: our actions read nothing of the closure and never change
    the state (they record the hit in `_CALL`), so the state goes back as durable gave it.
    """
    result = function(rules._handle, text)
    if result[0] in (1, 2):  # not handled / observed: no rule matched
        return
    handle, state = rules._handle, result[1] if result[0] == 0 else 0
    started = durable_rules_engine.start_action_for_state(handle, state)
    if not started:
        return
    state_text, message = started[0], json.loads(started[1])
    try:
        while message:
            action = next(iter(message))
            rules._runs[action](None)
            durable_rules_engine.update_state(handle, state_text)
            following = durable_rules_engine.complete_and_start_action(handle, state)
            message = json.loads(following) if following else None
    except BaseException:
        durable_rules_engine.abandon_action(handle, state)
        raise


def key(name: str) -> str:
    """The fact key durable sees for a field (durable reads dots as nesting)."""
    return name.replace(".", "__")


@dataclass(frozen=True)
class _Native:
    condition: dict
    alternatives: int
    keys: frozenset


def _leaf(condition: dict, name: str | None, alternatives: int = 1) -> _Native:
    return _Native(condition, alternatives, frozenset([key(name)] if name else []))


def _compare(op: str, name: str, value: Any) -> dict:
    return {key(name): value} if op == "==" else {_OPS[op]: {key(name): value}}


def _json_value(node: Node) -> Any:
    value = node.value
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return int(value) if value.is_integer() and abs(value) < 2**53 else value
    return value


def _members(node: InList) -> list | None:
    want = str if node.subject.type == "str" else float
    members = [v for v in node.values.values if isinstance(v, want) or want is float and isinstance(v, int)]
    if not 1 <= len(set(members)) <= MAX_NATIVE_LIST:
        return None
    return sorted({int(v) if isinstance(v, float) and v.is_integer() else v for v in members}, key=repr)


def native(node: Node, negate: bool = False, derive: Callable[[Node], str] | None = None) -> _Native | None:
    """The durable condition meaning exactly `node` (or `not node`), or None if durable can't say it.

    With `derive`, a test durable cannot express becomes a derived bool key of the fact, computed
    in Python before the assert (`derive` names it), so the whole condition runs in durable.
    """
    result = _native(node, negate, derive)
    if result is None and derive is not None and not isinstance(node, (Logic, Not)):
        name = derive(node)
        return _Native({name: not negate}, 1, frozenset([name]))
    return result


def _native(node: Node, negate: bool, derive: Callable[[Node], str] | None) -> _Native | None:
    if isinstance(node, Not):
        return native(node.operand, not negate, derive)
    if isinstance(node, Logic):
        op = {"and": "or", "or": "and"}[node.op] if negate else node.op
        parts = [native(item, negate, derive) for item in node.items]
        if any(p is None for p in parts):
            return None
        count = math.prod(p.alternatives for p in parts) if op == "and" else sum(p.alternatives for p in parts)
        return _Native({f"${op}": [p.condition for p in parts]}, count, frozenset().union(*(p.keys for p in parts)))
    absent = {"$nex": {}}
    if isinstance(node, Compare):
        left, right, op = node.left, node.right, node.op
        if isinstance(left, Const):
            left, right, op = right, left, _FLIP[op]
        if not (isinstance(left, Field) and isinstance(right, Const)) or _json_value(right) is None:
            return None
        if not negate:
            return _leaf(_compare(op, left.name, _json_value(right)), left.name)
        absent = {"$nex": {key(left.name): 1}}
        return _leaf({"$or": [_compare(_NEGATE[op], left.name, _json_value(right)), absent]}, left.name, 2)
    if isinstance(node, (Truthy, Missing)):
        name = node.subject.name
        present = {"$ex": {key(name): 1}}
        absent = {"$nex": {key(name): 1}}
        if isinstance(node, Missing):
            return _leaf(present if negate else absent, name)
        return _leaf({"$or": [{key(name): False}, absent]}, name, 2) if negate else _leaf({key(name): True}, name)
    if negate:
        if isinstance(node, InList) and node.subject.type != "list" and isinstance(node.subject, Field):
            members = _members(node)
            if members is None:
                return None
            name = node.subject.name
            neqs = [{"$neq": {key(name): m}} for m in members]
            return _leaf({"$or": [{"$nex": {key(name): 1}}, {"$and": neqs}]}, name, 2)
        return None
    if isinstance(node, Finding):
        return _leaf({"$iany": {"findings": {"$i": node.code}}}, "findings")
    if isinstance(node, (InField, ListHas)):
        field = node.container if isinstance(node, InField) else node.subject
        value = node.value.value if isinstance(node, InField) else node.value
        return _leaf({"$iany": {key(field.name): {"$i": value}}}, field.name)
    if isinstance(node, InList) and isinstance(node.subject, Field) and node.subject.type != "list":
        members = _members(node)
        if members is None:
            return None
        name = node.subject.name
        if len(members) == 1:
            return _leaf({key(name): members[0]}, name)
        return _leaf({"$or": [{key(name): m} for m in members]}, name, len(members))
    return None


@dataclass(frozen=True)
class RulePlan:
    """How one rule runs online: its durable condition and the Python guard left over."""

    rule: Rule
    condition: dict
    alternatives: int
    keys: frozenset
    guard: Node | None
    derived: dict


def _derived_key(node: Node) -> str:
    return "_d" + hashlib.sha256(repr(node).encode()).hexdigest()[:12]


def plan_rule(rule: Rule) -> RulePlan:
    """The rule as one durable condition; derived keys for what durable can't test, guards for overflow."""
    derived: dict[str, Node] = {}

    def derive(node: Node) -> str:
        name = _derived_key(node)
        derived[name] = node
        return name

    conjuncts = list(rule.condition.items) if isinstance(rule.condition, Logic) and rule.condition.op == "and" \
        else [rule.condition]
    scope: list[_Native] = []
    if rule.scope.direction:
        names = sorted(set(rule.scope.direction))
        scope.append(_leaf({"$or": [{key("declaration.direction"): d} for d in names]}, "declaration.direction",
                           len(names)))
    guard_scope = len(set(rule.scope.offices)) > MAX_NATIVE_LIST
    if rule.scope.offices and not guard_scope:
        names = sorted(set(rule.scope.offices))
        scope.append(_leaf({"$or": [{key("declaration.customs_office"): o} for o in names]},
                           "declaration.customs_office", len(names)))
    natives, guards = [], []
    budget = MAX_ALTERNATIVES // math.prod(s.alternatives for s in scope) if scope else MAX_ALTERNATIVES
    for item in conjuncts:
        compiled = native(item, derive=derive)
        if compiled is not None and compiled.alternatives > budget:
            compiled = _Native({derive(item): True}, 1, frozenset([_derived_key(item)]))
        if compiled is not None:
            budget //= compiled.alternatives
            natives.append(compiled)
        else:
            guards.append(item)
    validity = [{"$ex": {"_id": 1}}]
    if rule.valid_from:
        validity.append({"$gte": {"_on": rule.valid_from.toordinal()}})
    if rule.valid_to:
        validity.append({"$lte": {"_on": rule.valid_to.toordinal()}})
    parts = scope + natives
    guard = None
    if guards:
        guard = guards[0] if len(guards) == 1 else Logic(guards[0].pos, "and", tuple(guards))
    if guard_scope:
        office = Field(0, "declaration.customs_office", "str")
        in_offices = InList(0, office, ListConst(0, tuple(rule.scope.offices), None))
        guard = in_offices if guard is None else Logic(0, "and", (in_offices, guard))
    return RulePlan(rule, {"$and": validity + [p.condition for p in parts]},
                    math.prod(p.alternatives for p in parts) if parts else 1,
                    frozenset().union(*(p.keys for p in parts)) if parts else frozenset(), guard,
                    {k: v for k, v in derived.items() if any(k in p.keys for p in parts)})


class _Shard:
    """At most MAX_RULES_PER_SHARD rules registered as one durable ruleset named by its content."""

    def __init__(self, plans: list[RulePlan]) -> None:
        self.plans = plans
        self.guards = [compile_python(p.guard) if p.guard is not None else None for p in plans]
        self.definition = {f"r{i}": {"all": [{"m": p.condition}]} for i, p in enumerate(plans)}
        text = json.dumps(self.definition, sort_keys=True)
        self.name = "rulelang_" + hashlib.sha256(text.encode()).hexdigest()[:20]
        keys = frozenset().union(*(p.keys for p in plans))
        self.fields = [(k, k.replace("__", ".")) for k in sorted(keys) if not k.startswith("_")]
        derived = {k: n for p in plans for k, n in p.derived.items()}
        self.derived = [(k, compile_python(derived[k])) for k in sorted(derived)]

    def register(self) -> None:
        global _HOST
        if _HOST is None:
            _HOST = _QuietHost()
        if self.name not in _REGISTERED:
            definition = {slot: dict(body, run=_action(int(slot[1:]))) for slot, body in self.definition.items()}
            _REGISTERED[self.name] = _register(self.name, definition)
        self.durable = _REGISTERED[self.name]

    def payload(self, fact: dict, day: int, fact_id: int) -> dict:
        payload = {"_id": fact_id, "_on": day}
        for k, name in self.fields:
            value = fact[name]
            if value is not None and value != []:
                payload[k] = value
        for k, test in self.derived:
            payload[k] = bool(test(fact))
        return payload


def _action(slot: int):
    def run(c: Any) -> None:
        call = _CALL
        try:
            call.fire(slot)
        except BaseException as exc:  # durable would swallow it into the session state
            if call is not None:
                call.errors.append((slot, exc))
    return run


class _Call:
    __slots__ = ("shard", "fact", "fired", "errors")

    def __init__(self, shard: _Shard, fact: dict) -> None:
        self.shard, self.fact, self.fired, self.errors = shard, fact, {}, []

    def fire(self, slot: int) -> None:
        if slot not in self.fired:
            guard = self.shard.guards[slot]
            self.fired[slot] = guard is None or bool(guard(self.fact))


def plan(ruleset: RuleSet) -> list[_Shard]:
    """The shards of a rule set: the rules in order, cut into the fewest balanced shards within the limit.

    Fewer shards mean fewer durable calls per line, which is what online throughput is made of.
    """
    rules = ruleset.rules
    count = -(-len(rules) // MAX_RULES_PER_SHARD)
    size = -(-len(rules) // count) if count else 0
    return [_Shard([plan_rule(r) for r in rules[start:start + size]]) for start in range(0, len(rules), size or 1)]


class OnlineEvaluator:
    """Evaluates declaration lines through durable_rules, one line at a time, thread-safely."""

    def __init__(self, ruleset: RuleSet) -> None:
        self.ruleset = ruleset
        self._shards = plan(ruleset)
        self._next_id = 0
        with _LOCK:
            for shard in self._shards:
                shard.register()

    def evaluate(self, facts: list[dict], *, on: date | None = None) -> list[RuleHit]:
        """The hits of every line, in line order then rule order."""
        if self._shards is None:
            raise RuleEvaluationError("the evaluator is closed", code="closed")
        day = (on or date.today()).toordinal()
        hits: list[RuleHit] = []
        with _LOCK:
            for raw in facts:
                fact = normalise_fact(raw)
                for shard in self._shards:
                    for slot in self._run(shard, fact, day):
                        hits.append(_hit(shard.plans[slot].rule, fact))
        return hits

    def _run(self, shard: _Shard, fact: dict, day: int) -> list[int]:
        global _CALL
        self._next_id += 1
        text = _payload_json(shard.payload(fact, day, self._next_id))
        call = _CALL = _Call(shard, fact)
        try:
            try:
                _call(shard.durable, durable_rules_engine.assert_fact, text)
            finally:
                _call(shard.durable, durable_rules_engine.retract_fact, text)
        except RuleEvaluationError:
            raise
        except Exception as exc:
            raise RuleEvaluationError(f"durable_rules refused a fact in {shard.name}: {exc}",
                                      code="durable_error") from exc
        finally:
            _CALL = None
        if call.errors:
            slot, exc = call.errors[0]
            rule = shard.plans[slot].rule
            raise RuleEvaluationError(f"rule {rule.id} failed: {exc!r}", code="action_error", rule_id=rule.id) from exc
        return sorted(slot for slot, hit in call.fired.items() if hit)

    def close(self) -> None:
        """Drop this evaluator's shards; registered durable rulesets stay cached for reuse."""
        self._shards = None


def _hit(rule: Rule, fact: dict) -> RuleHit:
    line = fact.get("item.line")
    return RuleHit(rule.id, rule.version, int(line) if line is not None else None, rule.title,
                   rule.render_message(fact), rule.lane, rule.score, rule.confidential)


class _Probe:
    _next_id = -1


def durable_problems(ruleset: RuleSet) -> list[Problem]:
    """Problems with the durable limits: shard size, $or fan-out, and durable refusing a shard."""
    problems = []
    for shard in plan(ruleset):
        first = shard.plans[0].rule
        if len(shard.plans) > MAX_RULES_PER_SHARD:
            problems.append(Problem(first.file, first.line, 1, "durable_limit",
                                    f"{len(shard.plans)} rules in one durable ruleset (limit {MAX_RULES_PER_SHARD})"))
        for p in shard.plans:
            if p.alternatives > 64:
                problems.append(Problem(p.rule.file, p.rule.line, 1, "durable_limit",
                                        f"rule {p.rule.id} has {p.alternatives} alternatives (durable fails past 64)"))
        try:
            with _LOCK:
                shard.register()
                OnlineEvaluator._run(_Probe(), shard, normalise_fact({}), date.today().toordinal())
        except Exception as exc:  # noqa: BLE001 - any refusal is reported, not raised
            problems.append(Problem(first.file, first.line, 1, "durable_rejected",
                                    f"durable_rules refused the rules of {first.file}: {exc}"))
    return problems
