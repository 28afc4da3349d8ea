"""Permits: Management Authorities load them and report them cancelled, lost or stolen."""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from riskengine.api.deps import Authority, EngineDep, OfficerOrAuthority
from riskengine.permits.service import import_permits, put_one
from riskengine.schemas import Permit, PermitStatusChange
from riskengine.store.permits import change_status, get_permit_document

router = APIRouter(prefix="/v1/permits", tags=["permits"])

_SUFFIX = {"application/xml": ".xml", "text/xml": ".xml", "text/csv": ".csv", "application/x-ndjson": ".jsonl",
           "application/jsonl": ".jsonl", "application/json": ".jsonl"}


@router.post("/import")
async def bulk_import(request: Request, engine: EngineDep, actor: Authority) -> dict[str, Any]:
    """Load many permits: CSV, JSON lines or CITES e-permit XML, by Content-Type."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    suffix = _SUFFIX.get(content_type)
    if suffix is None:
        raise HTTPException(415, f"unsupported Content-Type {content_type!r}; use text/csv, application/x-ndjson or application/xml")
    body = await request.body()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"upload{suffix}"
        path.write_bytes(body)
        return import_permits(engine, path, actor=actor)


@router.post("/{issuing_country}/{number:path}/status", response_model=Permit)
def set_status(issuing_country: str, number: str, change: PermitStatusChange, engine: EngineDep, actor: Authority) -> Permit:
    with engine.database.session() as session:
        return change_status(session, issuing_country, number, change, actor=actor)


@router.put("/{issuing_country}/{number:path}", response_model=Permit)
def put_permit(issuing_country: str, number: str, permit: Permit, engine: EngineDep, actor: Authority) -> Permit:
    if permit.issuing_country != issuing_country.upper() or permit.number != number:
        raise HTTPException(422, f"the body is permit {permit.issuing_country}/{permit.number}, the path {issuing_country}/{number}")
    return put_one(engine, permit, actor=actor)


@router.get("/{issuing_country}/{number:path}", response_model=Permit, response_model_exclude_none=False)
def get_permit(issuing_country: str, number: str, engine: EngineDep, actor: OfficerOrAuthority) -> Permit:
    with engine.database.read() as session:
        return get_permit_document(session, issuing_country, number)
