"""The typed syntax tree of a `when` expression; both backends walk it.

Every node records `pos`, its offset in the expression text, so errors point at the token.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = [
    "Node", "Field", "Const", "ListConst", "Finding", "Missing", "Neg", "Not", "Truthy", "Arith",
    "Logic", "Compare", "InList", "InField", "StrPred", "ListHas", "Match", "walk",
]


@dataclass(frozen=True)
class Node:
    pos: int = field(compare=False, repr=False)
    type: str = field(init=False, default="bool", compare=False, repr=False)


@dataclass(frozen=True)
class Field(Node):
    name: str = ""
    ftype: str = "str"

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", self.ftype)


@dataclass(frozen=True)
class Const(Node):
    value: object = None
    ctype: str = "number"

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", self.ctype)


@dataclass(frozen=True)
class ListConst(Node):
    """A list literal or a named `list("name")`, resolved at load time."""

    values: tuple = ()
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", "list")


@dataclass(frozen=True)
class Finding(Node):
    code: str = ""


@dataclass(frozen=True)
class Missing(Node):
    subject: Field | None = None


@dataclass(frozen=True)
class Neg(Node):
    operand: Node | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", "number")


@dataclass(frozen=True)
class Not(Node):
    operand: Node | None = None


@dataclass(frozen=True)
class Truthy(Node):
    """A bool field used as a condition: true only when the value is true (None is false)."""

    subject: Field | None = None


@dataclass(frozen=True)
class Arith(Node):
    op: str = "+"
    left: Node | None = None
    right: Node | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", "number")


@dataclass(frozen=True)
class Logic(Node):
    op: str = "and"
    items: tuple = ()


@dataclass(frozen=True)
class Compare(Node):
    op: str = "=="
    left: Node | None = None
    right: Node | None = None


@dataclass(frozen=True)
class InList(Node):
    """`x in [..]` / `x in list("name")`; a list-typed x means any of its elements."""

    subject: Node | None = None
    values: ListConst | None = None


@dataclass(frozen=True)
class InField(Node):
    """`"AE" in declaration.transit_countries`: a value among a list field's elements."""

    value: Const | None = None
    container: Field | None = None


@dataclass(frozen=True)
class StrPred(Node):
    """startswith / contains / icontains with one or several (any of) arguments."""

    op: str = "startswith"
    subject: Field | None = None
    args: tuple = ()


@dataclass(frozen=True)
class ListHas(Node):
    """`declaration.transit_countries contains "AE"`."""

    subject: Field | None = None
    value: str = ""


@dataclass(frozen=True)
class Match(Node):
    """Regex search (Python `re`), optionally case-insensitive."""

    subject: Field | None = None
    pattern: str = ""
    ignore_case: bool = False

    @property
    def regex(self) -> re.Pattern:
        return re.compile(self.pattern, re.IGNORECASE if self.ignore_case else 0)


def walk(node: Node):
    """Every node of a tree, depth first."""
    yield node
    for value in node.__dict__.values():
        if isinstance(value, Node):
            yield from walk(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield from walk(item)
