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
    """A daemon thread that reloads the engine's rules whenever the files' content changes.

    A change is reloaded only once two polls in a row see the same content. An editor that saves
    in place truncates the file and then writes it, and `git checkout` rewrites files one by one:
    reloading the first thing seen could put a half-written rule pack in force (a file emptied
    for a moment parses as "no rules"), and consignments would be assessed without those rules.
    """

    def __init__(self, engine, *, interval: float = 2.0) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rules-watcher", daemon=True)
        self._seen = directory_fingerprint(engine.rules.directory)
        self._settling: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval * 2)

    def poll(self) -> bool:
        """Look at the files once; reload if they changed and have stayed as they are since the last poll."""
        current = directory_fingerprint(self.engine.rules.directory)
        if current == self._seen:
            self._settling = None
            return False
        if current != self._settling:
            self._settling = current
            return False
        self._seen, self._settling = current, None
        result = self.engine.reload_rules(actor=Actor("rules-watcher", "admin"))
        if result.ok:
            log.info("rules reloaded: version %s", result.version)
        else:
            log.error("rules not reloaded, previous rules stay: %s", "; ".join(result.problems))
        return True

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
            except Exception:
                log.exception("rules watcher failed; will try again")
