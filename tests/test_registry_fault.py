"""A registry read that fails in SQL leaves the rest of the assessment's snapshot usable, on both databases."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.schemas import Declaration
from riskengine.setup import initialise
from riskengine.store.audit import Actor

REPO = Path(__file__).resolve().parents[1]
DECLARATION = {
    "declaration_id": "REG-1", "version": 1, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
    "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Zoo Basel", "country": "CH"},
    "exporter": {"id": "E1", "name": "Exotic Woods SARL", "country": "CM"},
    "country_of_export": "CM", "country_of_destination": "CH",
    "items": [{"line": 1, "hs_code": "440349", "taxon": "Pericopsis elata", "quantity": 1, "unit": "MTQ",
               "permits": [{"number": "CM/EX/1", "issuing_country": "CM"}]}],
}


def test_failed_registry_query_is_a_finding_not_a_crash(database_url, tmp_path, monkeypatch):
    import riskengine.engine as engine_module

    settings = load_settings(None, database={"url": database_url}, rules={"dir": str(REPO / "rules")},
                             model={"path": str(tmp_path / "none")}, decision={"random_salt": "r", "random_rate": 0.0})
    initialise(settings)
    engine = Engine.from_settings(settings)

    def broken_registry(session, keys):
        session.execute(text("SELECT * FROM permit_registry_that_is_gone"))

    monkeypatch.setattr(engine_module, "load_cited", broken_registry)
    try:
        decision = engine.assess(Declaration.model_validate(DECLARATION), actor=Actor("sw", "single_window"))
    finally:
        engine.close()
    assert decision.decision == "inspect"
    assert [r.code for r in decision.reasons if r.source == "permit"] == ["PERMIT_REGISTRY_UNAVAILABLE"]
