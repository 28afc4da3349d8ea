"""Assessments: the single window posts declarations; officers read decisions and record outcomes."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from riskengine.api.deps import EngineDep, Officer, OfficerOrAnalyst, SingleWindow
from riskengine.schemas import Decision, Declaration, Outcome

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _json(decision: Decision, status: int) -> Response:
    # The decision is already a validated model: serialise it once instead of letting FastAPI
    # validate and serialise it again on the way out (this route runs for every declaration).
    return Response(decision.model_dump_json(), status_code=status, media_type="application/json")


@router.post("", response_model=Decision, status_code=201, responses={200: {"model": Decision, "description": "replayed"}})
def assess(declaration: Declaration, engine: EngineDep, actor: SingleWindow, request: Request) -> Response:
    decision = engine.assess(declaration, actor=actor)
    request.state.decision = decision
    shown = decision.for_single_window() if actor.role == "single_window" else decision
    return _json(shown, 200 if decision.replayed else 201)


@router.get("/{assessment_id}", response_model=Decision)
def get_assessment(assessment_id: str, engine: EngineDep, actor: OfficerOrAnalyst) -> Response:
    return _json(engine.get_assessment(assessment_id), 200)


@router.post("/{assessment_id}/outcome", status_code=201)
def record_outcome(assessment_id: str, outcome: Outcome, engine: EngineDep, actor: Officer) -> dict[str, Any]:
    return engine.record_outcome(assessment_id, outcome, actor=actor)
