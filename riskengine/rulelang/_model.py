"""Compiled rules, rule sets and hits."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from ._ast import Node

__all__ = ["Scope", "Example", "Rule", "RuleSet", "RuleHit", "LANES"]

LANES = ("red", "yellow", "blue", "green")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.]*)\}")


@dataclass(frozen=True)
class Scope:
    """Where a rule applies; an empty tuple means everywhere."""

    direction: tuple[str, ...] = ()
    offices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Example:
    """One example of a rule: partial facts (unspecified keys None) and whether it must hit."""

    kind: str  # "hit" or "miss"
    facts: dict[str, Any]
    line: int


@dataclass(eq=False)
class Rule:
    """One compiled rule: metadata plus the typed tree of its `when`."""

    id: str
    title: str
    rationale: str
    when: str
    condition: Node
    version: str
    file: str
    line: int
    instructions: str | None = None
    owner: str | None = None
    valid_from: date | None = None
    valid_to: date | None = None
    scope: Scope = field(default_factory=Scope)
    lane: str | None = None
    score: float | None = None
    confidential: bool = False
    message: str | None = None
    ruleset: str | None = None
    examples: list[Example] = field(default_factory=list)

    def is_active(self, on: date) -> bool:
        """Whether `on` falls within valid_from..valid_to (both inclusive)."""
        return (self.valid_from is None or self.valid_from <= on) and (self.valid_to is None or on <= self.valid_to)

    @property
    def message_fields(self) -> list[str]:
        """The fact names the `message:` template fills in, each once, in order of appearance."""
        return list(dict.fromkeys(_PLACEHOLDER.findall(self.message or "")))

    def render_message(self, facts: dict[str, Any]) -> str:
        """The hit message: the `message:` template with {field} filled in, or the title."""
        if not self.message:
            return self.title

        def fill(m: re.Match) -> str:
            value = facts.get(m.group(1))
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            return "?" if value is None else str(value)

        return _PLACEHOLDER.sub(fill, self.message)


@dataclass(eq=False)
class RuleSet:
    """The rules and named lists loaded from one directory, under one content-hash version."""

    version: str
    rules: list[Rule]
    lists: dict[str, tuple]
    files: list[str] = field(default_factory=list)
    content_hash: str = ""

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass(frozen=True)
class RuleHit:
    """One rule matching one declaration line."""

    rule_id: str
    rule_version: str
    line: int | None
    title: str
    message: str
    lane: str | None
    score: float | None
    confidential: bool
