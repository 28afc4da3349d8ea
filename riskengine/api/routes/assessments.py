"""Assessments: the single window posts declarations; officers read decisions and record outcomes."""
from __future__ import annotations

import asyncio
from typing import Any

import anyio
from anyio.to_thread import run_sync
from fastapi import APIRouter, Request, Response

from riskengine.api.deps import EngineDep, Officer, OfficerOrAnalyst, SingleWindow
from riskengine.schemas import Decision, Declaration, Outcome
from riskengine.store.audit import Actor

router = APIRouter(prefix="/v1/assessments", tags=["assessments"])


def _json(decision: Decision, status: int) -> Response:
    # The decision is already a validated model: serialise it once instead of letting FastAPI
    # validate and serialise it again on the way out (this route runs for every declaration).
    return Response(decision.model_dump_json(), status_code=status, media_type="application/json")


class Assessor:
    """Group commit: declarations that arrive while the engine is busy wait here and go in together.

    One batch runs at a time, in a worker thread; whatever arrived meanwhile (up to `limit`) forms
    the next. Under light load every batch holds one declaration and nothing waits; under heavy load
    one read snapshot, one write transaction and one commit serve many declarations
    (`Engine.assess_many`). Each request still gets its own decision or its own error.
    """

    def __init__(self, engine, limit: int) -> None:
        self.engine = engine
        self.limit = limit
        self.waiting: list[tuple[Declaration, Actor, asyncio.Future]] = []
        self.running = False
        self.limiter = anyio.CapacityLimiter(1)

    async def assess(self, declaration: Declaration, actor: Actor) -> Decision:
        future = asyncio.get_running_loop().create_future()
        self.waiting.append((declaration, actor, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(future)  # a client that goes away does not cancel its assessment

    async def _drain(self) -> None:
        try:
            while self.waiting:
                batch, self.waiting = self.waiting[:self.limit], self.waiting[self.limit:]
                requests = [(declaration, actor) for declaration, actor, _ in batch]
                try:
                    results = await run_sync(self._assess, requests, limiter=self.limiter)
                except Exception as exc:  # the database is unreachable: every request of the batch says so
                    results = [exc] * len(batch)
                for (_, _, future), result in zip(batch, results):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self.running = False
            if self.waiting:  # only if the loop above broke: never strand a waiting request
                self.running = True
                asyncio.get_running_loop().create_task(self._drain())

    def _assess(self, requests: list[tuple[Declaration, Actor]]) -> list[Decision | Exception]:
        self.engine.metrics.batch_size.observe(len(requests))
        return self.engine.assess_many(requests)


def _assessor(request: Request, engine) -> Assessor:
    assessor = getattr(request.app.state, "assessor", None)
    if assessor is None or assessor.engine is not engine:
        limit = engine.settings.server.assessment_batch
        assessor = request.app.state.assessor = Assessor(engine, limit)
    return assessor


@router.post("", response_model=Decision, status_code=201, responses={200: {"model": Decision, "description": "replayed"}})
async def assess(declaration: Declaration, engine: EngineDep, actor: SingleWindow, request: Request) -> Response:
    decision = await _assessor(request, engine).assess(declaration, actor)
    request.state.decision = decision
    shown = decision.for_single_window() if actor.role == "single_window" else decision
    return _json(shown, 200 if decision.replayed else 201)


@router.get("/{assessment_id}", response_model=Decision)
def get_assessment(assessment_id: str, engine: EngineDep, actor: OfficerOrAnalyst) -> Response:
    return _json(engine.get_assessment(assessment_id), 200)


@router.post("/{assessment_id}/outcome", status_code=201)
def record_outcome(assessment_id: str, outcome: Outcome, engine: EngineDep, actor: Officer) -> dict[str, Any]:
    return engine.record_outcome(assessment_id, outcome, actor=actor)
