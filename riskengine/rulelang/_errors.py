"""Errors of the rule language.

    RuleError                     root; every error carries a stable `code`
    ├── RuleSyntaxError           a `when` expression or a rule file is malformed
    │   └── RuleLoadError         loading a rules directory found problems (all listed in .problems)
    └── RuleEvaluationError       evaluating rules failed at run time (an action raised, durable refused)
"""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Problem", "RuleError", "RuleSyntaxError", "RuleLoadError", "RuleEvaluationError"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a rule file, at a 1-based line and column of that file (line 0: the
    whole file or directory)."""

    file: str
    line: int
    column: int
    code: str
    message: str
    suggestion: str | None = None
    severity: str = "error"

    def __str__(self) -> str:
        text = f"{self.file}:{self.line}:{self.column}: {self.message}" if self.line else f"{self.file}: {self.message}"
        if self.suggestion:
            text += f", did you mean '{self.suggestion}'"
        return text


class RuleError(Exception):
    """Root of every rule-language error."""

    code = "rule_error"


class RuleSyntaxError(RuleError):
    """Raised when an expression or rule file cannot be parsed or does not type-check."""

    code = "syntax"

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem
        self.code = problem.code


class RuleLoadError(RuleSyntaxError):
    """Raised by `load_rules` when any file has problems; `.problems` lists them all."""

    code = "load"

    def __init__(self, problems: list[Problem]) -> None:
        Exception.__init__(self, "\n".join(str(p) for p in problems))
        self.problems = list(problems)
        self.problem = problems[0]
        self.code = "load"


class RuleEvaluationError(RuleError):
    """Raised when evaluating rules fails: an action raised or durable_rules refused a fact."""

    code = "evaluation"

    def __init__(self, message: str, *, code: str = "evaluation", rule_id: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.rule_id = rule_id
