"""The batch backend: a typed tree evaluated over a whole frame with numpy.

Text, bool and list columns are factorised once; a text predicate runs on the distinct values
only (with the very function the online backend uses) and is spread back through the codes, so
both backends agree by construction and the cost grows with distinct values, not rows.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._ast import (Arith, Compare, Const, Field, Finding, InField, InList, ListHas, Logic, Match, Missing,
                   Neg, Node, Not, StrPred, Truthy)
from ._fields import FIELDS, normalise_value
from ._python import COMPARE, str_predicate

if TYPE_CHECKING:
    from ._model import Rule, RuleSet

__all__ = ["evaluate_frame", "FrameColumns", "rule_hit_rows"]

HIT_COLUMNS = ["row", "line", "rule_id", "rule_version", "lane", "score"]


class FrameColumns:
    """The frame's columns prepared once: numbers as float64 (NaN = None), the rest factorised."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.n = len(frame)
        self._numbers: dict[str, np.ndarray] = {}
        self._factors: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    def number(self, name: str) -> np.ndarray:
        if name not in self._numbers:
            col = self.frame[name] if name in self.frame else None
            if col is None:
                values = np.full(self.n, np.nan)
            elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
                values = col.to_numpy(dtype="float64", na_value=np.nan)
            else:
                codes, uniques = self.factor(name)
                table = np.array([np.nan if u is None else u for u in uniques] + [np.nan], dtype="float64")
                values = table[codes]
            self._numbers[name] = np.where(np.isfinite(values), values, np.nan)
        return self._numbers[name]

    def factor(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Codes (-1 = None) and the normalised distinct values of a column."""
        if name not in self._factors:
            kind = FIELDS[name].type
            if name not in self.frame:
                self._factors[name] = (np.full(self.n, -1, dtype="int64"), np.array([], dtype=object))
                return self._factors[name]
            col = self.frame[name]
            try:  # tuples and text factorise as they are
                codes, raw = pd.factorize(col, use_na_sentinel=True)
            except TypeError:  # lists or arrays (unhashable): as tuples
                if not (kind == "list" and col.dtype == object):
                    raise
                col = pd.Series([tuple(v) if isinstance(v, (list, tuple, np.ndarray)) else v for v in col],
                                dtype=object)
                codes, raw = pd.factorize(col, use_na_sentinel=True)
            uniques = np.empty(len(raw), dtype=object)
            for i, value in enumerate(raw):
                value = normalise_value(kind, value)
                uniques[i] = tuple(value) if kind == "list" else value
            if kind == "list":  # a missing list is the empty list
                uniques = np.append(uniques, None)
                uniques[-1] = ()
                codes = np.where(codes < 0, len(uniques) - 1, codes)
            self._factors[name] = (np.asarray(codes, dtype="int64"), uniques)
        return self._factors[name]

    def test(self, name: str, predicate: Callable[[Any], bool]) -> np.ndarray:
        """predicate(value) per row, computed once per distinct value; None values are false."""
        codes, uniques = self.factor(name)
        table = np.fromiter((u is not None and bool(predicate(u)) for u in uniques), dtype=bool,
                            count=len(uniques))
        return np.append(table, False)[codes]

    def objects(self, name: str) -> np.ndarray:
        codes, uniques = self.factor(name)
        return np.append(uniques, None)[codes]


def _number(node: Node, cols: FrameColumns, memo: dict) -> np.ndarray | float:
    if isinstance(node, Const):
        return float(node.value)
    return _eval(node, cols, memo)


def _eval(node: Node, cols: FrameColumns, memo: dict) -> Any:
    if node in memo:
        return memo[node]
    result = _eval_uncached(node, cols, memo)
    memo[node] = result
    return result


def _eval_uncached(node: Node, cols: FrameColumns, memo: dict) -> Any:
    if isinstance(node, Field):
        return cols.number(node.name)  # only number fields are evaluated as values
    if isinstance(node, Truthy):
        return cols.test(node.subject.name, lambda u: u is True)
    if isinstance(node, Missing):
        subject = node.subject
        if subject.type == "number":
            return np.isnan(cols.number(subject.name))
        codes, uniques = cols.factor(subject.name)
        table = np.fromiter((u is None or u == () for u in uniques), dtype=bool, count=len(uniques))
        return np.append(table, True)[codes]
    if isinstance(node, Finding):
        code = node.code
        return cols.test("findings", lambda u: code in u)
    if isinstance(node, Not):
        return ~_eval(node.operand, cols, memo)
    if isinstance(node, Logic):
        parts = [_eval(item, cols, memo) for item in node.items]
        return np.logical_and.reduce(parts) if node.op == "and" else np.logical_or.reduce(parts)
    if isinstance(node, Neg):
        return -_number(node.operand, cols, memo)
    if isinstance(node, Arith):
        values = _arith(node.op, _number(node.left, cols, memo), _number(node.right, cols, memo), cols.n)
        return np.where(np.isfinite(values), values, np.nan)
    if isinstance(node, Compare):
        return _compare(node, cols, memo)
    if isinstance(node, InList):
        return _in_list(node, cols, memo)
    if isinstance(node, InField):
        value = node.value.value
        return cols.test(node.container.name, lambda u: value in u)
    if isinstance(node, ListHas):
        value = node.value
        return cols.test(node.subject.name, lambda u: value in u)
    if isinstance(node, (StrPred, Match)):
        return cols.test(node.subject.name, str_predicate(node))
    raise TypeError(f"cannot evaluate {type(node).__name__}")


def _arith(op: str, a: Any, b: Any, n: int) -> np.ndarray:
    a = np.broadcast_to(np.asarray(a, dtype="float64"), (n,))
    b = np.broadcast_to(np.asarray(b, dtype="float64"), (n,))
    with np.errstate(all="ignore"):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1.0, b))


def _compare(node: Compare, cols: FrameColumns, memo: dict) -> np.ndarray:
    cmp, left, right = COMPARE[node.op], node.left, node.right
    if left.type == "number":
        a, b = _number(left, cols, memo), _number(right, cols, memo)
        with np.errstate(invalid="ignore"):
            result = cmp(a, b) & ~np.isnan(a) & ~np.isnan(b)
        return np.broadcast_to(result, (cols.n,)).copy()
    if isinstance(left, Const) or isinstance(right, Const):
        field, const = (right, left) if isinstance(left, Const) else (left, right)
        value = const.value
        if isinstance(left, Const):
            return cols.test(field.name, lambda u: cmp(value, u))
        return cols.test(field.name, lambda u: cmp(u, value))
    a, b = cols.objects(left.name), cols.objects(right.name)
    valid = np.not_equal(a, None) & np.not_equal(b, None)
    return valid & np.asarray(cmp(a, b), dtype=bool)


def _in_list(node: InList, cols: FrameColumns, memo: dict) -> np.ndarray:
    members = frozenset(node.values.values)
    subject = node.subject
    if subject.type == "number":
        numbers = [float(v) for v in members if isinstance(v, (int, float)) and not isinstance(v, bool)]
        values = _number(subject, cols, memo)
        return np.isin(values, numbers) & ~np.isnan(values)
    if subject.type == "list":
        return cols.test(subject.name, lambda u: any(v in members for v in u))
    return cols.test(subject.name, lambda u: u in members)


def _line_numbers(cols: FrameColumns, positions: np.ndarray) -> np.ndarray:
    """The hits' line numbers as Python ints (None where missing)."""
    values = cols.number("item.line")[positions]
    missing = np.isnan(values)
    if np.abs(np.where(missing, 0.0, values)).max(initial=0.0) >= 2.0**53:  # beyond exact int64 casts
        return np.array([None if np.isnan(v) else int(v) for v in values], dtype=object)
    out = np.where(missing, 0.0, values).astype(np.int64).astype(object)  # int64 -> object gives Python ints
    out[missing] = None
    return out


def rule_hit_rows(ruleset: "RuleSet", frame: pd.DataFrame, *, on: date | None = None) -> list[tuple["Rule", np.ndarray]]:
    """Each rule active on `on` (in rule-set order) with the positions of the frame's rows it hits."""
    return _hit_rows(ruleset, FrameColumns(frame), on or date.today())


def _hit_rows(ruleset: "RuleSet", cols: FrameColumns, on: date) -> list[tuple["Rule", np.ndarray]]:
    memo: dict = {}
    out = []
    for rule in ruleset.rules:
        if not rule.is_active(on):
            continue
        mask = _eval(rule.condition, cols, memo)
        if rule.scope.direction:
            directions = frozenset(rule.scope.direction)
            mask = mask & cols.test("declaration.direction", lambda u: u in directions)
        if rule.scope.offices:
            offices = frozenset(rule.scope.offices)
            mask = mask & cols.test("declaration.customs_office", lambda u: u in offices)
        out.append((rule, np.flatnonzero(mask)))
    return out


def evaluate_frame(ruleset: "RuleSet", frame: pd.DataFrame, *, on: date | None = None) -> pd.DataFrame:
    """Every hit of every active rule on a frame of declaration lines, one row per hit.

    Columns of the frame are the fact keys; list columns hold Python lists or ';'-joined text.
    Returns columns row (the frame's index label), line, rule_id, rule_version, lane, score.
    """
    cols = FrameColumns(frame)
    pairs = _hit_rows(ruleset, cols, on or date.today())
    if not pairs:
        return pd.DataFrame(columns=HIT_COLUMNS)
    positions = np.concatenate([rows for _, rows in pairs])
    rules = [(rule, len(rows)) for rule, rows in pairs]
    repeat = [count for _, count in rules]
    out = pd.DataFrame({
        "row": frame.index.to_numpy()[positions],
        "line": _line_numbers(cols, positions),
        "rule_id": np.repeat([r.id for r, _ in rules], repeat),
        "rule_version": np.repeat([r.version for r, _ in rules], repeat),
        "lane": pd.Series(np.repeat(np.array([r.lane for r, _ in rules], dtype=object), repeat), dtype=object),
        "score": np.repeat(np.array([np.nan if r.score is None else r.score for r, _ in rules]), repeat),
    })
    return out
