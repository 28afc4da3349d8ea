"""An isolation forest's scores of a whole chunk, without scikit-learn's per-call overhead.

`IsolationForest.score_samples` validates and copies its input and goes through joblib for each
tree. Batch calls each tree's compiled `apply` on one float32 matrix and adds the trees' depths in
scikit-learn's order and with its float operations, so the scores are scikit-learn's to the last
bit; tests check that.
"""
from __future__ import annotations

import numpy as np
from sklearn.ensemble._iforest import _average_path_length

__all__ = ["IsolationScorer", "isolation_scorer"]

_CACHE: dict[int, "IsolationScorer"] = {}


class IsolationScorer:
    """A fitted IsolationForest's trees and per-node depths, ready to score many rows."""

    def __init__(self, forest) -> None:
        self.forest = forest
        self.exact = forest._max_features == forest.n_features_in_  # sklearn subsamples features otherwise
        self.trees = [tree.tree_ for tree in forest.estimators_]
        # per node, what sklearn adds to a row's depth when the row ends there (same float operations)
        self.depth = [path + average - 1.0 for path, average in
                      zip(forest._decision_path_lengths, forest._average_path_length_per_tree)]
        self.denominator = len(forest.estimators_) * _average_path_length([forest._max_samples])

    def anomaly(self, X: np.ndarray) -> np.ndarray:
        """``-forest.score_samples(X)``."""
        if not self.exact:
            return -self.forest.score_samples(X)
        X = np.ascontiguousarray(X, dtype=np.float32)
        depths = np.zeros(X.shape[0])
        for tree, depth in zip(self.trees, self.depth):
            depths += depth[tree.apply(X)]
        denominator = self.denominator
        return 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))


def isolation_scorer(forest) -> IsolationScorer:
    """The (cached) scorer of a fitted IsolationForest."""
    scorer = _CACHE.get(id(forest))
    if scorer is None or scorer.forest is not forest:
        scorer = _CACHE[id(forest)] = IsolationScorer(forest)
    return scorer
