"""scikit-learn's compiled tree walks over a whole chunk, without its per-call overhead.

Batch scores tens of thousands of rows per call, where scikit-learn's own `score_samples` and
`predict_proba` cost more than needed: they validate and copy the input, run each tree over every
row while the matrix no longer fits in cache, and (isolation forest) go through joblib per tree.
These call the same compiled per-tree code on blocks of rows and add the trees up in scikit-learn's
order, so the numbers are scikit-learn's to the last bit; tests check that.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble._iforest import _average_path_length

__all__ = ["ForestScorer", "forest_scorer"]

# Rows per block: a block of the feature matrix stays in the CPU cache while all trees walk it.
BLOCK = 8192
_CACHE: dict[int, "ForestScorer"] = {}


class ForestScorer:
    """A fitted estimator's forests: isolation scores and booster probabilities of many rows."""

    def __init__(self, est) -> None:
        self.isolation = est.isolation_
        iso = est.isolation_
        self.iso_exact = iso._max_features == iso.n_features_in_  # sklearn subsamples features otherwise
        self.iso_trees = [tree.tree_ for tree in iso.estimators_]
        # per node, what sklearn adds to a row's depth when the row ends there (same float operations)
        self.iso_depth = [path + average - 1.0 for path, average in
                          zip(iso._decision_path_lengths, iso._average_path_length_per_tree)]
        self.iso_denominator = len(iso.estimators_) * _average_path_length([iso._max_samples])
        self.booster = est.booster_
        if est.booster_ is not None:
            self.predictors = [predictor for (predictor,) in est.booster_._predictors]
            self.known_cat_bitsets, self.f_idx_map = est.booster_._bin_mapper.make_known_categories_bitsets()

    def anomaly(self, X: np.ndarray) -> np.ndarray:
        """``-isolation_.score_samples(X)``."""
        if not self.iso_exact:
            return -self.isolation.score_samples(X)
        X = np.ascontiguousarray(X, dtype=np.float32)
        depths = np.zeros(X.shape[0])
        for tree, depth in zip(self.iso_trees, self.iso_depth):
            depths += depth[tree.apply(X)]
        denominator = self.iso_denominator
        return 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))

    def booster_raw(self, X: np.ndarray) -> np.ndarray:
        """The booster's raw score of each row (``decision_function``), one OpenMP thread."""
        X = np.ascontiguousarray(X, dtype=np.float64)
        raw = np.zeros((X.shape[0], 1), dtype=self.booster._baseline_prediction.dtype, order="F")
        raw += self.booster._baseline_prediction
        for start in range(0, X.shape[0], BLOCK):
            rows, out = X[start:start + BLOCK], raw[start:start + BLOCK, 0]
            for predictor in self.predictors:
                out += predictor.predict(rows, self.known_cat_bitsets, self.f_idx_map, 1)
        return raw[:, 0]

    def booster_probability(self, X: np.ndarray) -> np.ndarray:
        """``booster_.predict_proba(X)[:, 1]``."""
        return self.booster._loss.predict_proba(self.booster_raw(X).reshape(-1, 1))[:, 1]


def forest_scorer(est) -> ForestScorer:
    """The (cached) scorer of a fitted estimator's forests."""
    scorer = _CACHE.get(id(est))
    if scorer is None or scorer.isolation is not est.isolation_:
        scorer = _CACHE[id(est)] = ForestScorer(est)
    return scorer
