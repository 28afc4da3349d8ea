"""Capacity top-up inside the engine: thresholds from stored decisions, recorded for replay."""
from __future__ import annotations

from pathlib import Path

from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.replay import replay
from riskengine.schemas import Declaration
from riskengine.setup import initialise
from riskengine.store.audit import Actor

REPO = Path(__file__).resolve().parents[2]
FURNITURE = {
    "declaration_id": "CAP-0", "version": 1, "direction": "import", "lodged_at": "2026-11-27T10:00:00Z",
    "customs_office": "CHZRH", "importer": {"id": "I1", "name": "Moebel AG", "country": "CH"},
    "exporter": {"id": "E1", "name": "Mobili SpA", "country": "IT"}, "country_of_export": "IT", "country_of_destination": "CH",
    "items": [{"line": 1, "hs_code": "940360", "description": "wooden furniture", "quantity": 10, "net_mass_kg": 300, "value": 5000}],
}


def test_an_under_filled_yellow_lane_is_topped_up_and_the_decision_replays(tmp_path):
    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'c.db'}"}, rules={"dir": str(REPO / "rules")},
                             model={"path": str(tmp_path / "none")},
                             decision={"random_rate": 0.0, "random_salt": "c", "capacity": {"yellow": 0.9}, "capacity_refresh": 1})
    initialise(settings)
    engine = Engine.from_settings(settings)
    try:
        first = engine.assess(Declaration.model_validate(FURNITURE), actor=Actor("sw", "single_window"))
        second = engine.assess(Declaration.model_validate(FURNITURE | {"declaration_id": "CAP-1"}), actor=Actor("sw", "single_window"))
        assert first.lane == "green" and 0 < first.score < settings.decision.blue_threshold
        assert second.lane == "yellow" and second.decision == "inspect"
        assert [r.code for r in second.reasons if r.source == "capacity"] == ["CAPACITY_TOP_UP"]
        assert replay(engine, second.assessment_id).identical
    finally:
        engine.close()
