"""Assessments: the single window posts declarations; officers read decisions and record outcomes."""
from __future__ import annotations

from typing import Any

import anyio
from anyio.to_thread import run_sync
from fastapi import APIRouter, Request, Response

from riskengine.api.deps import EngineDep, Officer, OfficerOrAnalyst, SingleWindow
from riskengine.schemas import Decision, Declaration, Outcome

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _json(decision: Decision, status: int) -> Response:
    # The decision is already a validated model: serialise it once instead of letting FastAPI
    # validate and serialise it again on the way out (this route runs for every declaration).
    return Response(decision.model_dump_json(), status_code=status, media_type="application/json")


_ASSESSORS: dict[int, anyio.CapacityLimiter] = {}


def _assessors() -> anyio.CapacityLimiter:
    # The engine is CPU-bound and serialised by its rules and write locks: two threads keep one in the
    # database while the other computes; forty (the default pool) only fight over the GIL.
    loop = id(anyio.get_current_task().id and __import__("asyncio").get_running_loop())
    if loop not in _ASSESSORS:
        _ASSESSORS[loop] = anyio.CapacityLimiter(2)
    return _ASSESSORS[loop]


@router.post("", response_model=Decision, status_code=201, responses={200: {"model": Decision, "description": "replayed"}})
async def assess(declaration: Declaration, engine: EngineDep, actor: SingleWindow, request: Request) -> Response:
    decision = await run_sync(lambda: engine.assess(declaration, actor=actor), limiter=_assessors())
    request.state.decision = decision
    shown = decision.for_single_window() if actor.role == "single_window" else decision
    return _json(shown, 200 if decision.replayed else 201)


@router.get("/{assessment_id}", response_model=Decision)
def get_assessment(assessment_id: str, engine: EngineDep, actor: OfficerOrAnalyst) -> Response:
    return _json(engine.get_assessment(assessment_id), 200)


@router.post("/{assessment_id}/outcome", status_code=201)
def record_outcome(assessment_id: str, outcome: Outcome, engine: EngineDep, actor: Officer) -> dict[str, Any]:
    return engine.record_outcome(assessment_id, outcome, actor=actor)
