"""Assessments: the single window posts declarations; officers read decisions and record outcomes."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from riskengine.api.deps import EngineDep, Officer, OfficerOrAnalyst, SingleWindow
from riskengine.schemas import Decision, Declaration, Outcome

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


@router.post("", response_model=Decision, status_code=201, responses={200: {"model": Decision, "description": "replayed"}})
def assess(declaration: Declaration, engine: EngineDep, actor: SingleWindow, request: Request, response: Response) -> Decision:
    decision = engine.assess(declaration, actor=actor)
    request.state.decision = decision
    if decision.replayed:
        response.status_code = 200
    return decision.for_single_window() if actor.role == "single_window" else decision


@router.get("/{assessment_id}", response_model=Decision)
def get_assessment(assessment_id: str, engine: EngineDep, actor: OfficerOrAnalyst) -> Decision:
    return engine.get_assessment(assessment_id)


@router.post("/{assessment_id}/outcome", status_code=201)
def record_outcome(assessment_id: str, outcome: Outcome, engine: EngineDep, actor: Officer) -> dict[str, Any]:
    return engine.record_outcome(assessment_id, outcome, actor=actor)
