"""The rules watcher reloads on change; training reads outcomes from the database or a history file."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path


from riskengine.config import load_settings
from riskengine.engine import Engine
from riskengine.outcomes import history_from_database
from riskengine.permits.service import put_one
from riskengine.schemas import Outcome
from riskengine.setup import initialise
from riskengine.store.audit import Actor
from riskengine.synth import generate_world, history_frame
from riskengine.watch import RulesWatcher

REPO = Path(__file__).resolve().parents[1]


def engine_for(tmp_path, rules: Path) -> Engine:
    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'w.db'}"}, rules={"dir": str(rules)},
                             model={"path": str(tmp_path / "none")}, decision={"random_salt": "w", "random_rate": 0.0})
    initialise(settings)
    return Engine.from_settings(settings)


def replace(path: Path, text: str) -> None:
    """Write as editors that save atomically do, so the thread never sees a half-written file."""
    partial = path.parent.parent / (path.name + ".partial")
    partial.write_text(text)
    os.replace(partial, path)


def test_watcher_reloads_changed_rules_and_keeps_them_when_broken(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    engine = engine_for(tmp_path, rules)
    watcher = RulesWatcher(engine, interval=0.05)
    watcher.start()
    try:
        first = engine.rules.version
        path = rules / "traders.yaml"
        replace(path, path.read_text().replace("then: {score: 10}", "then: {score: 11}", 1))
        deadline = time.monotonic() + 10
        while engine.rules.version == first and time.monotonic() < deadline:
            time.sleep(0.05)
        second = engine.rules.version
        assert second != first
        replace(path, "rules: [oops")
        deadline = time.monotonic() + 10
        while engine.rules.last_error is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.rules.version == second and "traders.yaml:1" in engine.rules.last_error
    finally:
        watcher.stop()
        engine.close()


def test_watcher_waits_for_a_file_being_written_to_settle(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    engine = engine_for(tmp_path, rules)
    try:
        watcher = RulesWatcher(engine, interval=60)
        first, count = engine.rules.version, len(engine.rules.ruleset.rules)
        path = rules / "traders.yaml"
        text = path.read_text()
        path.write_text("")  # an editor saving in place: truncated, not yet written
        assert watcher.poll() is False
        path.write_text(text.replace("then: {score: 10}", "then: {score: 11}", 1))
        assert watcher.poll() is False  # changed again since the last poll: still settling
        assert engine.rules.version == first
        assert watcher.poll() is True
        second = engine.rules.version
        assert second != first and len(engine.rules.ruleset.rules) == count
        assert watcher.poll() is False and engine.rules.version == second
    finally:
        engine.close()


def test_outcomes_in_the_database_become_training_labels(tmp_path):
    world = generate_world(seed=5, days=30, declarations_per_day=6, n_permits=40)
    engine = engine_for(tmp_path, REPO / "rules")
    try:
        for permit in world.permits:
            put_one(engine, permit, actor=Actor("ma", "management_authority"))
        decided = []
        for entry in world.history[:40]:
            decision = engine.assess(entry.declaration, actor=Actor("sw", "single_window"))
            decided.append((entry, decision))
        inspected = [(e, d) for e, d in decided if d.decision == "inspect"][:6]
        results = ["seizure", "no_discrepancy", "discrepancy", "no_discrepancy", "seizure", "no_discrepancy"][: len(inspected)]
        for (entry, decision), result in zip(inspected, results):
            engine.record_outcome(decision.assessment_id, Outcome(result=result, officer="o"), actor=Actor("o", "officer"))
        frame = history_from_database(engine.database)
    finally:
        engine.close()
    per_declaration = frame.groupby("declaration_id")["fraud"].first()
    assert len(per_declaration) == 40
    assert per_declaration.notna().sum() == len(results)
    assert per_declaration.sum() == sum(r != "no_discrepancy" for r in results)
    assert set(frame["lane"]) <= {"red", "yellow", "blue", "green"}


def test_train_and_evaluate_commands_on_a_history_file(tmp_path):
    world = generate_world(seed=9, days=120, declarations_per_day=30, n_permits=120)
    frame = history_frame(world)
    cut = frame["lodged_at"].quantile(0.75)
    frame[frame["lodged_at"] < cut].to_parquet(tmp_path / "train.parquet")
    frame[frame["lodged_at"] >= cut].to_parquet(tmp_path / "later.parquet")
    model = tmp_path / "model"
    run = lambda *args: subprocess.run([sys.executable, "-m", "riskengine", *args], capture_output=True, text=True, timeout=300, check=True)
    trained = run("train", "--history", str(tmp_path / "train.parquet"), "--out", str(model))
    assert "supervised" in trained.stdout and (model / "model_card.json").exists()
    metrics = json.loads(run("evaluate", "--model", str(model), "--history", str(tmp_path / "later.parquet"), "--json").stdout)
    for key in ("precision@1%", "precision@2%", "precision@5%", "precision@10%", "recall@5%", "auc"):
        assert key in metrics
    assert metrics["auc"] > 0.6
    table = run("evaluate", "--model", str(model), "--history", str(tmp_path / "later.parquet")).stdout
    assert "inspection rate" in table and "ROC AUC" in table
