"""Twenty declarations race for one permit line that covers five: exactly five are clean, in any number
of processes, on SQLite and on PostgreSQL; used plus reserved never exceeds the line."""
from __future__ import annotations

import copy
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from sqlalchemy import select

from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.permits.service import put_one
from riskengine.schemas import Declaration, Permit
from riskengine.setup import initialise
from riskengine.store.audit import Actor
from riskengine.store.tables import PermitLineRow

REPO = Path(__file__).resolve().parents[2]
QUANTITY_CODES = {"PERMIT_QUANTITY_EXCEEDED", "PERMIT_ALREADY_USED"}

PERMIT = {
    "number": "CM/EX/2026/00500", "issuing_country": "CM", "type": "export", "issued_on": "2026-06-01",
    "exporter": {"name": "Exotic Woods SARL", "country": "CM"}, "importer": {"name": "Zoo Basel", "country": "CH"},
    "lines": [{"line": 1, "taxon": "Pericopsis elata", "appendix": "II", "term": "TIM", "purpose": "T", "source": "W",
               "quantity": 5, "unit": "MTQ", "country_of_origin": "CM"}],
}
DECLARATION = {
    "declaration_id": "RACE-000", "version": 1, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
    "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Zoo Basel", "country": "CH"},
    "exporter": {"id": "E1", "name": "Exotic Woods SARL", "country": "CM"},
    "country_of_export": "CM", "country_of_destination": "CH",
    "items": [{"line": 1, "hs_code": "440349", "description": "sawn logs", "taxon": "Pericopsis elata",
               "country_of_origin": "CM", "quantity": 1, "unit": "MTQ", "cites": {"term": "TIM", "purpose": "T", "source": "W"},
               "permits": [{"number": "CM/EX/2026/00500", "issuing_country": "CM"}]}],
}


def settings_for(url: str, tmp: str):
    return load_settings(None, database={"url": url}, rules={"dir": str(REPO / "rules")},
                         model={"path": str(Path(tmp) / "none")}, decision={"random_rate": 0.0, "random_salt": "race"})


def assess_some(url: str, tmp: str, numbers: list[int]) -> list[tuple[int, list[str]]]:
    engine = Engine.from_settings(settings_for(url, tmp))
    try:
        results = []
        for n in numbers:
            body = copy.deepcopy(DECLARATION)
            body["declaration_id"] = f"RACE-{n:03d}"
            decision = engine.assess(Declaration.model_validate(body), actor=Actor(f"worker-{n % 4}", "single_window"))
            results.append((n, [r.code for r in decision.reasons if r.source == "permit"]))
        return results
    finally:
        engine.close()


def test_twenty_concurrent_assessments_in_four_processes_take_exactly_five_units(database_url, tmp_path):
    settings = settings_for(database_url, str(tmp_path))
    initialise(settings)
    engine = Engine.from_settings(settings)
    put_one(engine, Permit.model_validate(PERMIT), actor=Actor("ma", "management_authority"))
    engine.close()
    shares = [list(range(i, 20, 4)) for i in range(4)]
    with ProcessPoolExecutor(4, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = [r for part in pool.map(assess_some, [database_url] * 4, [str(tmp_path)] * 4, shares) for r in part]
    assert len(results) == 20
    clean = [n for n, codes in results if not QUANTITY_CODES & set(codes)]
    flagged = [n for n, codes in results if QUANTITY_CODES & set(codes)]
    assert len(clean) == 5 and len(flagged) == 15
    engine = Engine.from_settings(settings)
    with engine.database.session() as session:
        line = session.execute(select(PermitLineRow)).scalar_one()
        assert line.quantity_used + line.quantity_reserved == 5
    engine.close()
