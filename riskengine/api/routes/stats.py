"""Selection performance for analysts."""
from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from fastapi import APIRouter, Query

from riskengine.api.deps import Analyst, EngineDep
from riskengine.stats import compute_stats

router = APIRouter(prefix="/v1/stats", tags=["stats"])


@router.get("")
def stats(
    engine: EngineDep,
    actor: Analyst,
    start: dt.date | None = Query(None, alias="from", description="first day, inclusive"),
    end: dt.date | None = Query(None, alias="to", description="last day, inclusive"),
    office: str | None = Query(None, max_length=20),
    period: Literal["day", "week", "month"] | None = None,
    min_selections: int = Query(20, ge=1, le=100000),
) -> dict[str, Any]:
    first = dt.datetime.combine(start, dt.time(), dt.timezone.utc) if start else None
    last = dt.datetime.combine(end, dt.time(), dt.timezone.utc) + dt.timedelta(days=1) if end else None
    return compute_stats(engine.database, start=first, end=last, office=office, period=period, min_selections=min_selections)
