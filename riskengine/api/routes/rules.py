"""The loaded rules, for analysts, and reload without restart, for administrators."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from riskengine.api.deps import Admin, Analyst, EngineDep

router = APIRouter(prefix="/v1/rules", tags=["rules"])


@router.get("")
def list_rules(engine: EngineDep, actor: Analyst) -> dict[str, Any]:
    holder = engine.rules
    ruleset = holder.ruleset
    return {
        "version": ruleset.version,
        "loaded_at": holder.loaded_at.isoformat(),
        "last_reload_error": holder.last_error,
        "rules": [
            {"id": r.id, "version": r.version, "title": r.title, "rationale": r.rationale, "owner": r.owner,
             "lane": r.lane, "score": r.score, "confidential": r.confidential, "file": str(r.file)}
            for r in ruleset.rules
        ],
    }


@router.post("/reload")
def reload(engine: EngineDep, actor: Admin) -> dict[str, Any]:
    result = engine.reload_rules(actor=actor)
    if not result.ok:
        raise HTTPException(422, {"message": "rules not reloaded; the previous rules stay in force",
                                  "version": result.version, "problems": result.problems})
    return {"version": result.version, "rules": result.rules}
