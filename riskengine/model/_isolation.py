"""An isolation forest's scores of a whole chunk, without scikit-learn's per-call overhead.

`IsolationForest.score_samples` validates and copies its input and goes through joblib for each
tree. Batch calls each tree's compiled `apply` on one float32 matrix and adds the trees' depths in
scikit-learn's order and with its float operations, so the scores are scikit-learn's to the last
bit; tests check that. With the compiled `riskengine.model._walk` (built by the install) all trees
walk a block of rows in one call, with the same comparisons and the same sums.
"""
from __future__ import annotations

import logging

import numpy as np
from sklearn.ensemble._iforest import _average_path_length

try:
    from riskengine.model import _walk
except ImportError:  # an install that could not compile it: scikit-learn's walks, slower, same scores
    _walk = None
    logging.getLogger("riskengine.model").debug("riskengine.model._walk is not built; trees walk through scikit-learn")

__all__ = ["IsolationScorer", "NODE", "isolation_scorer", "node_table"]

# `node_t` of _walk.c: a leaf has feature 0 and itself as both children
NODE = np.dtype([("threshold", "<f8"), ("feature", "<i4"), ("child", "<i4", (2,)), ("info", "<u4")])
NAN_LEFT, CATEGORICAL, LEAF, BITSET_SHIFT = 1, 2, 4, 3
BLOCK = 1024  # rows per pass of `_walk` over all trees: their features stay in the CPU cache (measured)

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
        trees = self.trees
        self.roots = np.cumsum([0] + [tree.node_count for tree in trees[:-1]]).astype(np.int32)
        self.nodes = node_table(
            np.concatenate([tree.children_left == -1 for tree in trees]),
            feature=np.concatenate([tree.feature for tree in trees]),
            threshold=np.concatenate([tree.threshold for tree in trees]),
            left=np.concatenate([tree.children_left for tree in trees]),
            right=np.concatenate([tree.children_right for tree in trees]),
            nan_left=np.concatenate([tree.missing_go_to_left for tree in trees]),
            roots=self.roots,
        )
        self.node_depth = np.concatenate(self.depth).astype(np.float64)

    def anomaly(self, X: np.ndarray) -> np.ndarray:
        """``-forest.score_samples(X)``."""
        if not self.exact:
            return -self.forest.score_samples(X)
        X = np.ascontiguousarray(X, dtype=np.float32)
        if _walk is not None:
            depths = np.empty(X.shape[0])
            _walk.isolation(self.nodes, self.roots, self.node_depth, X, depths, 0, X.shape[0], BLOCK)
        else:
            depths = np.zeros(X.shape[0])
            for tree, depth in zip(self.trees, self.depth):
                depths += depth[tree.apply(X)]
        denominator = self.denominator
        return 2 ** (-np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0))


def node_table(leaf: np.ndarray, *, feature, threshold, left, right, nan_left, roots: np.ndarray,
               categorical=None, bitset=None) -> np.ndarray:
    """Trees' nodes, concatenated, as `_walk` reads them; children given within their own tree."""
    offset = np.repeat(roots.astype(np.int64), np.diff(np.append(roots, leaf.size)))
    own = np.arange(leaf.size, dtype=np.int64)
    nodes = np.zeros(leaf.size, dtype=NODE)
    nodes["threshold"] = np.where(leaf, 0.0, threshold)
    nodes["feature"] = np.where(leaf, 0, feature)
    nodes["child"][:, 0] = np.where(leaf, own, np.asarray(left, dtype=np.int64) + offset)
    nodes["child"][:, 1] = np.where(leaf, own, np.asarray(right, dtype=np.int64) + offset)
    info = np.where(leaf, LEAF, np.where(np.asarray(nan_left, dtype=bool), NAN_LEFT, 0)).astype(np.uint32)
    if categorical is not None:
        cat = ~leaf & np.asarray(categorical, dtype=bool)
        info |= np.where(cat, CATEGORICAL | (np.asarray(bitset, dtype=np.uint32) << BITSET_SHIFT), 0).astype(np.uint32)
    nodes["info"] = info
    return nodes


def isolation_scorer(forest) -> IsolationScorer:
    """The (cached) scorer of a fitted IsolationForest."""
    scorer = _CACHE.get(id(forest))
    if scorer is None or scorer.forest is not forest:
        scorer = _CACHE[id(forest)] = IsolationScorer(forest)
    return scorer
