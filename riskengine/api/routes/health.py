"""Liveness, readiness and Prometheus metrics; no authentication."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from riskengine.api.deps import EngineDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(engine: EngineDep) -> Any:
    database = engine.database.ping()
    body = {
        "status": "ready" if database else "unavailable",
        "database": "ok" if database else "unavailable",
        "ruleset_version": engine.rules.version,
        "model": {"mode": "model" if engine.model else "rules-only",
                  "version": engine.model.version if engine.model else None,
                  "reason": None if engine.model else engine.model_error},
        # which listings screen declarations: the shipped data only, or a WCMC import laid over it
        "reference": engine.reference_summary,
    }
    return JSONResponse(body, status_code=200 if database else 503)


@router.get("/metrics")
def metrics(engine: EngineDep) -> Response:
    return Response(generate_latest(engine.metrics.registry), media_type=CONTENT_TYPE_LATEST)
