"""The CITES annual trade report as JSON, for analysts (the same tables `riskengine report annual` writes)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from riskengine.api.deps import Analyst, EngineDep
from riskengine.reports import build_annual_report

router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/annual")
def annual_report(
    engine: EngineDep,
    actor: Analyst,
    year: Annotated[int, Query(ge=1975, le=2200, description="calendar year, by declaration date (UTC)")],
    party: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2}$", description="ISO code of the reporting Party")] = None,
) -> dict[str, Any]:
    """{year, party, exports, imports, seizures, problems}: one record per permit line used, in the e-upload columns."""
    report = build_annual_report(engine.database, engine.reference, year=year, party=party.upper() if party else None)
    return report.to_json()
