"""Rule backtests on history: enriched like live declarations, from a file or from the engine's own decisions."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd

from riskengine.backtest import enrich_history, with_history_aggregates
from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.outcomes import history_from_database
from riskengine.reference import Reference
from riskengine.rulelang import load_rules
from riskengine.rulelang.commands import backtest
from riskengine.setup import initialise
from riskengine.store.audit import Actor
from riskengine.synth import generate_world, history_frame

REPO = Path(__file__).resolve().parents[1]


def test_file_history_gets_taxonomy_screening_and_aggregates(tmp_path):
    frame = history_frame(generate_world(seed=4, days=40, declarations_per_day=20, n_permits=60))
    enriched = with_history_aggregates(enrich_history(frame, Reference.load()))
    afrormosia = enriched[enriched["taxon"] == "Pericopsis elata"].iloc[0]
    assert afrormosia["item.appendix"] == "II" and afrormosia["item.kingdom"] == "Plantae" and afrormosia["item.cites_relevant"]
    first = enriched.sort_values("lodged_at").iloc[0]
    assert first["history.exporter_seen_before"] == False  # noqa: E712 - numpy bool
    assert enriched["history.permit_citations"].max() >= 1
    table = backtest(load_rules(REPO / "rules"), enriched)
    assert set(table["rule_id"]) == {r.id for r in load_rules(REPO / "rules").rules}
    assert (table["hits"] > 0).sum() >= 10 and table["hit_rate"].notna().any()


def test_backtest_command_on_the_engines_own_decisions_sees_permit_findings(tmp_path):
    world = generate_world(seed=6, days=40, declarations_per_day=8, n_permits=60)
    config = tmp_path / "config.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path / 'b.db'}'}}\nrules: {{dir: '{REPO / 'rules'}'}}\n"
                      f"model: {{path: '{tmp_path / 'none'}'}}\ndecision: {{random_salt: b}}\n")
    settings = load_settings(config)
    initialise(settings)
    engine = Engine.from_settings(settings)
    try:
        from riskengine.permits.service import put_one

        for permit in world.permits:
            put_one(engine, permit, actor=Actor("ma", "management_authority"))
        for entry in world.history[:150]:
            engine.assess(entry.declaration, actor=Actor("sw", "single_window"))
        frame = history_from_database(engine.database)
    finally:
        engine.close()
    assert frame["findings"].str.len().gt(0).any() and frame["history.permit_citations"].notna().all()
    out = tmp_path / "bt.csv"
    result = subprocess.run([sys.executable, "-m", "riskengine", "rules", "backtest", "--out", str(out), "--config", str(config)],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    permit_rules = table[table["rule_id"].str.startswith("PF-")]
    assert permit_rules["hits"].sum() > 0
    assert "150 declarations replayed" in result.stdout
