"""Errors raised by the model stage.

    ModelError                 root of everything below
    ├── MappingError           a history file or its column mapping does not fit together
    └── ModelUnavailable       no usable model at the given path (missing, corrupt, incompatible)

Each carries a stable machine-readable ``code`` beside its message.
"""
from __future__ import annotations

__all__ = ["MappingError", "ModelError", "ModelUnavailable"]


class ModelError(Exception):
    """Root of the model stage's errors."""

    code = "MODEL_ERROR"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class MappingError(ModelError, ValueError):
    """Raised when a history file lacks a column its mapping (or the canonical table) needs."""

    code = "MAPPING_ERROR"


class ModelUnavailable(ModelError):
    """Raised by ``load_model`` when there is no usable model; ``reason`` says why, for /readyz."""

    code = "MODEL_UNAVAILABLE"

    def __init__(self, reason: str, *, code: str | None = None) -> None:
        super().__init__(reason, code=code)
        self.reason = reason
