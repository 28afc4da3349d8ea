"""Batch's direct tree walks give scikit-learn's own scores to the last bit."""
from __future__ import annotations

import numpy as np
from sklearn.ensemble import IsolationForest

from riskengine.model._gains import booster_leaves
from riskengine.model._isolation import isolation_scorer


def _full(model, frame):
    est = model.estimator
    return est.feature_matrix(est._cols(model._aligned(frame)))


def test_isolation_scores_equal_scikit_learns_score_samples(supervised, split):
    est = supervised.estimator
    sub = est._filled(_full(supervised, split[1])[:, est.anomaly_columns_])
    assert np.array_equal(isolation_scorer(est.isolation_).anomaly(sub), -est.isolation_.score_samples(sub))


def test_an_isolation_forest_on_a_feature_subsample_is_scored_by_scikit_learn():
    X = np.random.default_rng(0).normal(size=(300, 4))
    forest = IsolationForest(n_estimators=5, max_features=2, random_state=0).fit(X)
    assert np.array_equal(isolation_scorer(forest).anomaly(X), -forest.score_samples(X))


def test_a_refitted_forest_gets_a_new_scorer():
    X = np.random.default_rng(0).normal(size=(50, 3))
    forest = IsolationForest(n_estimators=3, random_state=0).fit(X)
    scorer = isolation_scorer(forest)
    assert isolation_scorer(forest) is scorer
    other = IsolationForest(n_estimators=3, random_state=1).fit(X)
    assert isolation_scorer(other).forest is other


def test_booster_leaves_in_blocks_give_scikit_learns_probabilities(supervised, split):
    est = supervised.estimator
    assert est.mode_ == "supervised"
    full = _full(supervised, split[1])
    tables = booster_leaves(est, supervised._groups)
    raw, leaves = tables.leaves(full, block=97)  # several blocks and a ragged last one
    assert np.array_equal(tables.probability(raw), est.booster_.predict_proba(full)[:, 1])
    whole_raw, whole_leaves = tables.leaves(full)
    assert np.array_equal(raw, whole_raw) and np.array_equal(leaves, whole_leaves)
