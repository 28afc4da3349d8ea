"""Tokenizer and Pratt parser of `when` expressions, with name resolution and type checks.

Hand-written so that every error carries the offset of the offending token; nothing is ever
passed to `eval`.
"""
from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ._ast import (Arith, Compare, Const, Field, Finding, InField, InList, ListConst, ListHas, Logic,
                   Match, Missing, Neg, Node, Not, StrPred, Truthy)
from ._fields import FIELDS, FINDING_CODES

__all__ = ["ExprError", "parse_expression", "suggest"]

STR_METHODS = {"startswith", "contains", "icontains", "matches", "imatches"}
FUNCTIONS = {"list", "finding", "missing"}
KEYWORDS = {"and", "or", "not", "in", "true", "false", "True", "False"} | STR_METHODS
COMPARE_OPS = {"==", "!=", "<", "<=", ">", ">="}
INFIX_POWER = {"or": 10, "and": 20, "in": 40, "not in": 40, **{op: 40 for op in COMPARE_OPS},
               **{m: 40 for m in STR_METHODS}, "+": 50, "-": 50, "*": 60, "/": 60}

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
""", re.VERBOSE)
_MISTAKES = {"=": "==", "&&": "and", "||": "or", "!": "not", "&": "and", "|": "or"}
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'"}


class ExprError(Exception):
    """A problem in one expression, at an offset of its text."""

    def __init__(self, pos: int, code: str, message: str, suggestion: str | None = None) -> None:
        super().__init__(message)
        self.pos, self.code, self.message, self.suggestion = pos, code, message, suggestion


@dataclass(frozen=True)
class Token:
    kind: str  # number, string, name, op, end
    text: str
    pos: int


def suggest(name: str, candidates: Sequence[str]) -> str | None:
    """The closest candidate to a misspelt name, or None."""
    found = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    if found:
        return found[0]
    tail = [c for c in candidates if c.rsplit(".", 1)[-1] == name.rsplit(".", 1)[-1]]
    return tail[0] if len(tail) == 1 else None


def tokenize(text: str) -> list[Token]:
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            two, one = text[pos:pos + 2], text[pos]
            bad = two if two in _MISTAKES else one
            if bad in ('"', "'"):
                raise ExprError(pos, "unterminated_string", "unterminated string")
            raise ExprError(pos, "unexpected_character", f"unexpected character {bad!r}", _MISTAKES.get(bad))
        if m.lastgroup != "ws":
            tokens.append(Token(m.lastgroup, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _unquote(token: Token) -> str:
    body = token.text[1:-1]
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), body)


class _Parser:
    def __init__(self, text: str, lists: Mapping[str, Sequence]) -> None:
        self.tokens = tokenize(text)
        self.i = 0
        self.lists = lists

    # -- token helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def next(self) -> Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> Token:
        if self.tok.text != text or self.tok.kind == "string":
            raise ExprError(self.tok.pos, "expected", f"expected '{text}' but found {self._show(self.tok)}")
        return self.next()

    @staticmethod
    def _show(tok: Token) -> str:
        return "the end of the expression" if tok.kind == "end" else repr(tok.text)

    def _infix_op(self) -> str | None:
        tok = self.tok
        if tok.kind == "op" and tok.text in INFIX_POWER:
            return tok.text
        if tok.kind == "name":
            if tok.text == "not" and self.tokens[self.i + 1].text == "in":
                return "not in"
            if tok.text in INFIX_POWER:
                return tok.text
        return None

    # -- Pratt loop
    def parse(self) -> Node:
        node = self.expression(0)
        if self.tok.kind != "end":
            raise ExprError(self.tok.pos, "unexpected_token", f"unexpected {self._show(self.tok)}",
                            _MISTAKES.get(self.tok.text))
        return self.condition(node)

    def expression(self, min_power: int) -> Node:
        left = self.prefix()
        while (op := self._infix_op()) is not None and INFIX_POWER[op] > min_power:
            tok = self.next()
            if op == "not in":
                self.next()
            power = INFIX_POWER[op]
            if op in STR_METHODS:
                left = self.str_method(op, left, [self.expression(power)], tok.pos)
                continue
            right = self.expression(power)
            if power == 40 and self._infix_op() in COMPARE_OPS | {"in", "not in"} | STR_METHODS:
                raise ExprError(self.tok.pos, "chained_comparison", "comparisons cannot be chained; use 'and'")
            left = self.infix(op, left, right, tok.pos)
        return left

    def prefix(self) -> Node:
        tok = self.next()
        if tok.kind == "number":
            return Const(tok.pos, float(tok.text), "number")
        if tok.kind == "string":
            return Const(tok.pos, _unquote(tok), "str")
        if tok.kind == "op" and tok.text == "(":
            node = self.expression(0)
            self.expect(")")
            return node
        if tok.kind == "op" and tok.text == "[":
            return self.list_literal(tok)
        if tok.kind == "op" and tok.text == "-":
            return Neg(tok.pos, self.number(self.expression(70)))
        if tok.kind == "name":
            if tok.text == "not":
                return Not(tok.pos, self.condition(self.expression(30)))
            if tok.text in ("true", "True", "false", "False"):
                return Const(tok.pos, tok.text in ("true", "True"), "bool")
            return self.name(tok)
        raise ExprError(tok.pos, "unexpected_token", f"unexpected {self._show(tok)}", _MISTAKES.get(tok.text))

    def list_literal(self, start: Token) -> ListConst:
        values = []
        while self.tok.text != "]" or self.tok.kind == "string":
            item = self.prefix()
            if isinstance(item, Neg) and isinstance(item.operand, Const):
                item = Const(item.pos, -item.operand.value, "number")
            if not isinstance(item, Const) or item.type == "bool":
                raise ExprError(item.pos, "bad_list_item", "a list literal holds only strings and numbers")
            values.append(item.value)
            if self.tok.text != "]":
                self.expect(",")
        self.next()
        return ListConst(start.pos, tuple(values), None)

    def name(self, tok: Token) -> Node:
        text, pos = tok.text, tok.pos
        if self.tok.text == "(" and self.tok.kind == "op":
            head, _, method = text.rpartition(".")
            if head and method in STR_METHODS:
                self.next()
                subject = self.field(head, pos)
                args = self.arguments()
                return self.str_method(method, subject, args, pos + len(head) + 1)
            if text in FUNCTIONS:
                self.next()
                return self.function(text, pos, self.arguments())
            raise ExprError(pos, "unknown_function", f"unknown function '{text}'",
                            suggest(method or text, sorted(FUNCTIONS | STR_METHODS)))
        return self.field(text, pos)

    def arguments(self) -> list[Node]:
        args = []
        while self.tok.text != ")" or self.tok.kind == "string":
            args.append(self.expression(0))
            if self.tok.text != ")":
                self.expect(",")
        self.next()
        return args

    def field(self, name: str, pos: int) -> Field:
        if name == "findings":
            raise ExprError(pos, "findings_direct", "use finding(\"CODE\") to test for a finding")
        spec = FIELDS.get(name)
        if spec is None:
            raise ExprError(pos, "unknown_field", f"unknown field '{name}'", suggest(name, list(FIELDS)))
        return Field(pos, name, spec.type)

    def function(self, name: str, pos: int, args: list[Node]) -> Node:
        if len(args) != 1:
            raise ExprError(pos, "bad_arguments", f"{name}() takes exactly one argument")
        arg = args[0]
        if name == "missing":
            if not isinstance(arg, Field):
                raise ExprError(arg.pos, "bad_arguments", "missing() takes a field")
            return Missing(pos, arg)
        if not (isinstance(arg, Const) and arg.type == "str"):
            raise ExprError(arg.pos, "bad_arguments", f"{name}() takes a quoted name")
        if name == "finding":
            if arg.value not in FINDING_CODES:
                raise ExprError(arg.pos + 1, "unknown_finding", f"unknown finding code '{arg.value}'",
                                suggest(arg.value, FINDING_CODES))
            return Finding(pos, arg.value)
        if arg.value not in self.lists:
            raise ExprError(arg.pos + 1, "unknown_list", f"unknown list '{arg.value}'",
                            suggest(arg.value, sorted(self.lists)))
        return ListConst(pos, tuple(self.lists[arg.value]), arg.value)

    # -- typing
    def condition(self, node: Node) -> Node:
        if isinstance(node, Field) and node.type == "bool":
            return Truthy(node.pos, node)
        if node.type != "bool" or isinstance(node, (Field, Const)) and not isinstance(node, Const):
            raise ExprError(node.pos, "not_a_condition", f"expected a condition, found a {node.type} value")
        if isinstance(node, Const):
            raise ExprError(node.pos, "not_a_condition", "a constant is not a condition")
        return node

    def number(self, node: Node) -> Node:
        if node.type != "number":
            raise ExprError(node.pos, "type_mismatch", f"expected a number, found a {node.type} value")
        return node

    def infix(self, op: str, left: Node, right: Node, pos: int) -> Node:
        if op in ("and", "or"):
            items = []
            for side in (self.condition(left), self.condition(right)):
                items.extend(side.items if isinstance(side, Logic) and side.op == op else (side,))
            return Logic(left.pos, op, tuple(items))
        if op in ("+", "-", "*", "/"):
            return Arith(pos, op, self.number(left), self.number(right))
        if op in ("in", "not in"):
            node = self.membership(left, right, pos)
            return Not(pos, node) if op == "not in" else node
        return self.compare(op, left, right, pos)

    def compare(self, op: str, left: Node, right: Node, pos: int) -> Node:
        types = {left.type, right.type}
        if len(types) != 1 or "list" in types:
            raise ExprError(pos, "type_mismatch", f"cannot compare a {left.type} with a {right.type}")
        kind = left.type
        if kind in ("str", "bool") and op not in ("==", "!="):
            raise ExprError(pos, "type_mismatch", f"'{op}' compares numbers, not {kind} values")
        if isinstance(left, Const) and isinstance(right, Const):
            raise ExprError(pos, "constant_comparison", "the comparison has no field")
        if kind == "bool" and not all(isinstance(s, (Field, Const)) for s in (left, right)):
            raise ExprError(pos, "type_mismatch", "compare a bool field with true or false")
        return Compare(pos, op, left, right)

    def membership(self, left: Node, right: Node, pos: int) -> Node:
        if isinstance(right, ListConst):
            if left.type == "list" and not isinstance(left, Field) or left.type == "bool":
                raise ExprError(left.pos, "type_mismatch", f"a {left.type} value cannot be looked up in a list")
            if isinstance(left, Const):
                raise ExprError(pos, "constant_comparison", "the membership test has no field")
            return InList(pos, left, right)
        if isinstance(right, Field) and right.type == "list":
            if not (isinstance(left, Const) and left.type == "str"):
                raise ExprError(left.pos, "type_mismatch", "only a quoted value can be looked up in a list field")
            return InField(pos, left, right)
        raise ExprError(right.pos, "type_mismatch", "'in' needs a list: [..], list(\"name\") or a list field")

    def str_method(self, op: str, subject: Node, args: list[Node], pos: int) -> Node:
        if not isinstance(subject, Field):
            raise ExprError(subject.pos, "type_mismatch", f"{op} applies to a field")
        if len(args) != 1:
            raise ExprError(pos, "bad_arguments", f"{op} takes exactly one argument")
        arg = args[0]
        if subject.type == "list" and op == "contains":
            if not (isinstance(arg, Const) and arg.type == "str"):
                raise ExprError(arg.pos, "bad_arguments", "contains on a list field takes a quoted value")
            return ListHas(pos, subject, arg.value)
        if subject.type != "str":
            raise ExprError(subject.pos, "type_mismatch", f"{op} applies to a text field, not a {subject.type}")
        if op in ("matches", "imatches"):
            if not (isinstance(arg, Const) and arg.type == "str"):
                raise ExprError(arg.pos, "bad_arguments", f"{op} takes a quoted regular expression")
            try:
                re.compile(arg.value)
            except re.error as exc:
                raise ExprError(arg.pos + 1 + (exc.pos or 0), "bad_regex", f"invalid regular expression: {exc.msg}")
            return Match(pos, subject, arg.value, op == "imatches")
        if isinstance(arg, Const) and arg.type == "str":
            values = (arg.value,)
        elif isinstance(arg, ListConst):
            values = tuple(str(v) for v in arg.values)
        else:
            raise ExprError(arg.pos, "bad_arguments", f"{op} takes a quoted text or a list")
        return StrPred(pos, op, subject, values)


def parse_expression(text: str, *, lists: Mapping[str, Sequence] | None = None) -> Node:
    """The typed tree of a `when` expression; raises ExprError at the offending offset."""
    return _Parser(text, lists or {}).parse()
