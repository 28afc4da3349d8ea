"""Reloads the rules when a file under rules/ changes (polling: works on every file system)."""
from __future__ import annotations

import hashlib
import logging
import threading
from pathlib import Path

from riskengine.ruleset import rule_files
from riskengine.store.audit import Actor

__all__ = ["RulesWatcher", "directory_fingerprint"]

log = logging.getLogger("riskengine.watch")


def directory_fingerprint(directory: Path) -> str:
    digest = hashlib.sha256()
    for name, text in rule_files(directory).items():
        digest.update(name.encode() + b"\0" + text.encode() + b"\0")
    return digest.hexdigest()


class RulesWatcher:
    """A daemon thread that reloads the engine's rules whenever the files' content changes."""

    def __init__(self, engine, *, interval: float = 2.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rules-watcher", daemon=True)
        self._seen = directory_fingerprint(engine.rules.directory)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval * 2)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                current = directory_fingerprint(self.engine.rules.directory)
                if current == self._seen:
                    continue
                self._seen = current
                result = self.engine.reload_rules(actor=Actor("rules-watcher", "admin"))
                if result.ok:
                    log.info("rules reloaded: version %s", result.version)
                else:
                    log.error("rules not reloaded, previous rules stay: %s", "; ".join(result.problems))
            except Exception:
                log.exception("rules watcher failed; will try again")
