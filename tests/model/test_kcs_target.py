"""The target on the public KCS data: train on 2020, measure on 2021 Q1 (time-based split)."""
from __future__ import annotations

import pytest

from riskengine.model import evaluate, load_model, read_history, train


@pytest.mark.slow
def test_kcs_precision_at_5_and_10_percent_meets_the_target(shared_data, tmp_path):
    kcs = shared_data / "kcs"
    history = read_history(kcs / "df_syn_train_eng.csv", "kcs")
    later = read_history(kcs / "df_syn_valid_eng.csv", "kcs")
    card = train(history, out_dir=tmp_path, progress=False)
    metrics = evaluate(load_model(tmp_path), later)
    assert card.mode == "supervised"
    assert metrics["n"] == 8134
    assert metrics["precision@5%"] >= 0.80, metrics
    assert metrics["precision@10%"] >= 0.70, metrics
    assert metrics["precision@1%"] >= metrics["precision@10%"]
    assert 0 < metrics["recall@10%"] < 1 and 0.5 < metrics["auc"] <= 1
