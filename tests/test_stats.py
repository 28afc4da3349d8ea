"""Selection statistics against a hand-computed fixture (six assessments, four outcomes)."""
from __future__ import annotations

import datetime as dt

import pytest

from riskengine.stats import compute_stats
from riskengine.store.db import Database
from riskengine.store.tables import Assessment, DeclarationRow, OutcomeRow, ReasonRow

T0 = dt.datetime(2026, 11, 2, 9, tzinfo=dt.timezone.utc)
# id, lane, random, office, rules, outcome
FIXTURE = [
    ("A1", "red", False, "CHZRH", ["R1"], "seizure"),
    ("A2", "red", False, "CHZRH", ["R1"], "no_discrepancy"),
    ("A3", "yellow", True, "CHZRH", [], "discrepancy"),
    ("A4", "green", False, "CHZRH", [], None),
    ("A5", "green", False, "CHZRH", ["R2"], None),
    ("A6", "yellow", False, "CHGVA", ["R2"], "no_discrepancy"),
]


@pytest.fixture
def database(database_url):
    db = Database(database_url)
    db.migrate()
    with db.session() as session:
        for n, (aid, lane, random, office, rules, result) in enumerate(FIXTURE):
            at = T0 + dt.timedelta(days=n * 3)
            row = DeclarationRow(declaration_id=aid, version=1, body={}, body_hash="x", lodged_at=at, received_at=at)
            session.add(row)
            session.flush()
            session.add(Assessment(id=aid, declaration_pk=row.id, declaration_id=aid, declaration_version=1,
                                   decision="inspect" if lane in ("red", "yellow") else "release", lane=lane, score=0,
                                   random_selection=random, customs_office=office, assessed_at=at, response={}, inputs={}, actor="t",
                                   reasons=[ReasonRow(position=i, source="rule", rule_id=r) for i, r in enumerate(rules)]))
            if result:
                session.flush()
                session.add(OutcomeRow(assessment_id=aid, result=result, officer="o", body={}, recorded_at=at, actor="t"))
    yield db
    db.dispose()


def test_rates_per_lane_rule_selection_office_match_the_hand_computed_figures(database):
    stats = compute_stats(database, min_selections=2, period="month")
    assert (stats["assessments"], stats["inspected"], stats["inspection_rate"]) == (6, 4, 0.6667)
    assert (stats["outcomes"], stats["hit_rate"]) == (4, 0.5)
    assert stats["lanes"]["red"] == {"assessments": 2, "share": 0.3333, "outcomes": 2, "hits": 1, "hit_rate": 0.5}
    assert stats["lanes"]["yellow"] == {"assessments": 2, "share": 0.3333, "outcomes": 2, "hits": 1, "hit_rate": 0.5}
    assert stats["lanes"]["green"] == {"assessments": 2, "share": 0.3333, "outcomes": 0, "hits": 0, "hit_rate": None}
    assert stats["selection"] == {"targeted": {"outcomes": 3, "hits": 1, "hit_rate": 0.3333},
                                  "random": {"outcomes": 1, "hits": 1, "hit_rate": 1.0}}
    assert stats["rules"] == [
        {"rule_id": "R1", "selections": 2, "outcomes": 2, "hits": 1, "hit_rate": 0.5, "review": False},
        {"rule_id": "R2", "selections": 2, "outcomes": 1, "hits": 0, "hit_rate": 0.0, "review": True},
    ]
    assert stats["rules_for_review"] == ["R2"]
    assert stats["offices"] == [
        {"office": "CHGVA", "assessments": 1, "inspection_rate": 1.0, "hit_rate": 0.0},
        {"office": "CHZRH", "assessments": 5, "inspection_rate": 0.6, "hit_rate": 0.6667},
    ]
    assert [p["period"] for p in stats["periods"]] == ["2026-11"]


def test_period_and_office_filters(database):
    first_week = compute_stats(database, start=T0, end=T0 + dt.timedelta(days=6))
    assert first_week["assessments"] == 2 and first_week["lanes"]["red"]["assessments"] == 2
    geneva = compute_stats(database, office="CHGVA")
    assert geneva["assessments"] == 1 and geneva["hit_rate"] == 0.0
