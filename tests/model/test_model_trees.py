"""Batch's direct tree walks give scikit-learn's own scores to the last bit."""
from __future__ import annotations

import numpy as np

from riskengine.model import _trees
from riskengine.model._trees import forest_scorer


def _full(model, frame):
    est = model.estimator
    return est.feature_matrix(est._cols(model._aligned(frame)))


def test_isolation_scores_equal_scikit_learns_score_samples(supervised, split):
    est = supervised.estimator
    sub = est._filled(_full(supervised, split[1])[:, est.anomaly_columns_])
    assert np.array_equal(forest_scorer(est).anomaly(sub), -est.isolation_.score_samples(sub))


def test_booster_probabilities_equal_scikit_learns_predict_proba_across_blocks(supervised, split, monkeypatch):
    est = supervised.estimator
    assert est.mode_ == "supervised"
    full = _full(supervised, split[1])
    monkeypatch.setattr(_trees, "BLOCK", 97)  # several blocks and a ragged last one
    assert np.array_equal(forest_scorer(est).booster_probability(full), est.booster_.predict_proba(full)[:, 1])


def test_a_refitted_estimator_gets_a_new_scorer(supervised):
    est = supervised.estimator
    scorer = forest_scorer(est)
    assert forest_scorer(est) is scorer
    old = est.isolation_
    try:
        est.isolation_ = type(old)(**old.get_params()).fit(np.random.default_rng(0).normal(size=(50, old.n_features_in_)))
        assert forest_scorer(est).isolation is est.isolation_
    finally:
        est.isolation_ = old
