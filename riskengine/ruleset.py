"""The live rule set of a process: one durable_rules evaluator behind a lock, reloadable in place.

durable_rules sessions lose hits when threads share them and hold the GIL in C, so each process
has exactly one evaluator and every evaluation takes the lock. A reload that fails to load keeps
the rules in force.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from riskengine.rulelang import OnlineEvaluator, RuleLoadError, load_rules

__all__ = ["ReloadResult", "RulesHolder", "rule_files"]

log = logging.getLogger("riskengine.rules")


@dataclass
class ReloadResult:
    ok: bool
    version: str | None
    problems: list[str] = field(default_factory=list)
    rules: int = 0


def rule_files(directory: Path) -> dict[str, str]:
    """The text of every rule and list file under `directory`, by relative path."""
    return {
        str(path.relative_to(directory)): path.read_text(encoding="utf-8")
        for path in sorted(directory.rglob("*.y*ml"))
        if path.is_file()
    }


class RulesHolder:
    """Holds the loaded RuleSet and its OnlineEvaluator; swaps both atomically on reload."""

    def __init__(self, directory: Path, *, database=None) -> None:
        self.directory = Path(directory)
        self.database = database
        self._lock = threading.Lock()
        self.ruleset = load_rules(self.directory, in_force=True)
        self._evaluator = OnlineEvaluator(self.ruleset)
        self.loaded_at = dt.datetime.now(dt.timezone.utc)
        self.last_error: str | None = None

    @property
    def version(self) -> str:
        return self.ruleset.version

    def evaluate(self, facts: list[dict[str, Any]], *, on: dt.date | None = None):
        with self._lock:
            return self._evaluator.evaluate(facts, on=on)

    def reload(self) -> ReloadResult:
        """Load rules/ again; on any problem keep the current rules and report what is wrong."""
        try:
            ruleset = load_rules(self.directory, in_force=True)
            evaluator = OnlineEvaluator(ruleset)
        except RuleLoadError as exc:
            self.last_error = str(exc)
            return ReloadResult(False, self.version, [str(p) for p in getattr(exc, "problems", [])] or [str(exc)], len(self.ruleset.rules))
        except Exception as exc:  # a rule pack durable_rules refuses: same outcome, old rules stay
            log.exception("rules reload failed")
            self.last_error = f"{type(exc).__name__}: {exc}"
            return ReloadResult(False, self.version, [self.last_error], len(self.ruleset.rules))
        with self._lock:
            old, self._evaluator, self.ruleset = self._evaluator, evaluator, ruleset
            self.loaded_at = dt.datetime.now(dt.timezone.utc)
        old.close()
        self.last_error = None
        return ReloadResult(True, ruleset.version, [], len(ruleset.rules))

    def close(self) -> None:
        with self._lock:
            self._evaluator.close()
