"""Evaluation of a typed tree on one normalised fact, compiled once into nested closures.

The None rules, shared with the batch backend: arithmetic with None (or a division by zero, or a
NaN result) is None; any comparison, membership or text test with None is false; `not` negates.
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

from ._ast import (Arith, Compare, Const, Field, Finding, InField, InList, ListHas, Logic, Match, Missing,
                   Neg, Node, Not, StrPred, Truthy)

__all__ = ["compile_python", "str_predicate", "arith", "COMPARE"]

Fn = Callable[[dict], Any]

COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
           ">": operator.gt, ">=": operator.ge}


def arith(op: str, a: float | None, b: float | None) -> float | None:
    """One arithmetic step under the None rules."""
    if a is None or b is None:
        return None
    if op == "+":
        result = a + b
    elif op == "-":
        result = a - b
    elif op == "*":
        result = a * b
    elif b == 0:
        return None
    else:
        result = a / b
    return result if math.isfinite(result) else None


def str_predicate(node: StrPred | Match) -> Callable[[str], bool]:
    """The test a text predicate applies to one non-None string (shared with the batch backend)."""
    if isinstance(node, Match):
        search = node.regex.search
        return lambda s: search(s) is not None
    args = node.args
    if node.op == "startswith":
        return lambda s: s.startswith(args)
    if node.op == "contains":
        return lambda s: any(a in s for a in args)
    lowered = tuple(a.casefold() for a in args)
    return lambda s: any(a in s.casefold() for a in lowered)


def compile_python(node: Node) -> Fn:
    """A function of one normalised fact computing the node's value."""
    if isinstance(node, Field):
        name = node.name
        return lambda f: f[name]
    if isinstance(node, Const):
        value = node.value
        return lambda f: value
    if isinstance(node, Truthy):
        name = node.subject.name
        return lambda f: f[name] is True
    if isinstance(node, Missing):
        name = node.subject.name
        return lambda f: f[name] is None or f[name] == []
    if isinstance(node, Finding):
        code = node.code
        return lambda f: code in f["findings"]
    if isinstance(node, Not):
        inner = compile_python(node.operand)
        return lambda f: not inner(f)
    if isinstance(node, Logic):
        parts = [compile_python(item) for item in node.items]
        if node.op == "and":
            return lambda f: all(p(f) for p in parts)
        return lambda f: any(p(f) for p in parts)
    if isinstance(node, Neg):
        inner = compile_python(node.operand)
        return lambda f: None if (v := inner(f)) is None else -v
    if isinstance(node, Arith):
        left, right, op = compile_python(node.left), compile_python(node.right), node.op
        return lambda f: arith(op, left(f), right(f))
    if isinstance(node, Compare):
        left, right, cmp = compile_python(node.left), compile_python(node.right), COMPARE[node.op]
        return lambda f: (a := left(f)) is not None and (b := right(f)) is not None and cmp(a, b)
    if isinstance(node, InList):
        return _in_list(node)
    if isinstance(node, InField):
        value, name = node.value.value, node.container.name
        return lambda f: value in f[name]
    if isinstance(node, ListHas):
        value, name = node.value, node.subject.name
        return lambda f: value in f[name]
    if isinstance(node, (StrPred, Match)):
        test, name = str_predicate(node), node.subject.name
        return lambda f: (s := f[name]) is not None and test(s)
    raise TypeError(f"cannot evaluate {type(node).__name__}")


def _in_list(node: InList) -> Fn:
    members = frozenset(node.values.values)
    subject = compile_python(node.subject)
    if node.subject.type == "list":
        return lambda f: any(v in members for v in subject(f))
    return lambda f: (v := subject(f)) is not None and v in members
