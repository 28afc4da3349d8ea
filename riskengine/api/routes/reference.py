"""Reference data lookups for every role."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from riskengine.api.deps import AnyRole, EngineDep
from riskengine.errors import NotFoundError

router = APIRouter(prefix="/v1/reference", tags=["reference"])


@router.get("/taxa/{name}")
def taxon(name: str, engine: EngineDep, actor: AnyRole) -> dict[str, Any]:
    info = engine.reference.lookup(name)
    if info is None:
        raise NotFoundError(f"{name!r} is not a CITES-listed taxon or a known synonym")
    return info.to_dict()
