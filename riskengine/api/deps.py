"""FastAPI dependencies, one Annotated alias each, so route signatures read as types."""
from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from riskengine.engine import Engine
from riskengine.security import ApiKeys, InvalidKey
from riskengine.store.audit import Actor

__all__ = ["EngineDep", "require"]

_bearer = HTTPBearer(auto_error=False)


# The dependencies that only read app state or compare a role are `async def`: FastAPI runs a plain
# `def` dependency in the thread pool, and those hops cost more than the work on every request.
async def get_engine(request: Request) -> Engine:
    return request.app.state.engine


EngineDep = Annotated[Engine, Depends(get_engine)]


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"})


async def _actor(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Actor:
    """The caller's actor (`ApiKeys.authenticate`), before anything else of the request is looked at."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorised("missing API key: send Authorization: Bearer <key>")
    keys: ApiKeys = request.app.state.api_keys
    try:
        actor = keys.remembered(credentials.credentials) or await run_in_threadpool(keys.authenticate, credentials.credentials)
    except InvalidKey as exc:
        raise _unauthorised(str(exc)) from exc
    limiter = request.app.state.rate_limiter
    if limiter is not None and not limiter.allow(actor.name):
        raise HTTPException(status.HTTP_429_TOO_MANY_REQUESTS, "rate limit exceeded for this API key", headers={"Retry-After": "1"})
    request.state.actor = actor
    return actor


def require(*roles: str):
    """A dependency that authenticates the caller and admits only `roles` (admin is always admitted)."""

    async def check(actor: Actor = Depends(_actor)) -> Actor:
        if actor.role != "admin" and actor.role not in roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"role {actor.role} may not do this; needs {' or '.join(roles)}")
        return actor

    return Annotated[Actor, Depends(check)]


SingleWindow = require("single_window")
Officer = require("officer")
OfficerOrAnalyst = require("officer", "analyst")
OfficerOrAuthority = require("officer", "management_authority")
Authority = require("management_authority")
Analyst = require("analyst")
Admin = require("admin")
AnyRole = require("single_window", "officer", "analyst", "management_authority")
