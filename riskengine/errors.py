"""Domain errors, each with a stable machine-readable `code`; one handler maps them to HTTP.

    RiskEngineError
    ├── NotFoundError          something named by the caller does not exist (404)
    │   ├── AssessmentNotFound
    │   └── PermitNotFound     (riskengine.store.permits)
    ├── ConflictError          the request contradicts what is recorded (409)
    │   └── OutcomeAlreadyRecorded
    └── UnavailableError       a dependency is down; nothing was decided (503)
"""
from __future__ import annotations

__all__ = ["AssessmentNotFound", "ConflictError", "NotFoundError", "OutcomeAlreadyRecorded", "RiskEngineError", "UnavailableError"]


class RiskEngineError(Exception):
    """Root of riskengine's domain errors."""

    code = "RISKENGINE_ERROR"


class NotFoundError(RiskEngineError, LookupError):
    """Raised when a caller names an assessment, permit or rule that does not exist."""

    code = "NOT_FOUND"


class AssessmentNotFound(NotFoundError):
    """Raised when no assessment has the given id."""

    code = "ASSESSMENT_NOT_FOUND"


class ConflictError(RiskEngineError):
    """Raised when a declaration id and version were already assessed with a different body."""

    code = "CONFLICT"


class OutcomeAlreadyRecorded(ConflictError):
    """Raised when an inspection outcome is posted twice for one assessment."""

    code = "OUTCOME_ALREADY_RECORDED"


class UnavailableError(RiskEngineError):
    """Raised when a dependency the decision needs is down; no decision is returned."""

    code = "UNAVAILABLE"
