"""riskengine: customs risk management for CITES controls.

The public surface; everything else lives in the stage modules. Heavy parts (the engine with
durable_rules and the model, the HTTP app) load on first use, so `import riskengine` stays cheap.

    from riskengine import Engine, load_settings, Declaration
    engine = Engine.from_settings(load_settings("config.yaml"))
    decision = engine.assess(Declaration.model_validate(body), actor=Actor("me", "single_window"))
"""
from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Actor": "riskengine.store.audit",
    "Decision": "riskengine.schemas",
    "Declaration": "riskengine.schemas",
    "Engine": "riskengine.engine",
    "Outcome": "riskengine.schemas",
    "Permit": "riskengine.schemas",
    "Reference": "riskengine.reference",
    "Settings": "riskengine.config",
    "create_app": "riskengine.api.app",
    "load_rules": "riskengine.rulelang",
    "load_settings": "riskengine.config",
    "run_batch": "riskengine.batch",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'riskengine' has no attribute {name!r}")
    return getattr(import_module(module), name)


def __dir__() -> list[str]:
    return __all__
