"""Tree ensembles flattened into numpy arrays, so scoring a handful of rows costs microseconds.

scikit-learn's own predict pays a fixed cost per call (input validation, a thread pool: about
0.1 s per call for HistGradientBoosting on a busy two-core machine). A declaration has a few lines,
so the server walks all trees at once in numpy instead; tests check both give the same numbers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["PackedForest", "pack_hist_gradient_boosting", "pack_isolation_forest"]


@dataclass(frozen=True)
class PackedForest:
    """All trees' nodes in flat arrays; ``leaf_value`` summed over trees is the raw output."""

    feature: np.ndarray  # int64, 0 at leaves
    threshold: np.ndarray  # float64; go left when x <= threshold
    left: np.ndarray  # int64 absolute node index
    right: np.ndarray
    missing_left: np.ndarray  # bool: NaN goes left
    is_leaf: np.ndarray  # bool
    leaf_value: np.ndarray  # float64
    roots: np.ndarray  # int64, one per tree
    depth: int
    float32_inputs: bool  # sklearn's decision trees compare float32 inputs

    def raw_sum(self, X: np.ndarray) -> np.ndarray:
        """Sum over trees of the leaf value each row of ``X`` reaches."""
        X = np.asarray(X, dtype=np.float64)
        if self.float32_inputs:
            X = X.astype(np.float32).astype(np.float64)
        node = np.broadcast_to(self.roots, (X.shape[0], self.roots.size)).copy()
        for step_no in range(self.depth):
            if step_no % 4 == 3 and self.is_leaf[node].all():
                break
            x = np.take_along_axis(X, self.feature[node], axis=1)
            nan = np.isnan(x)
            go_left = np.where(nan, self.missing_left[node], x <= self.threshold[node])
            step = np.where(go_left, self.left[node], self.right[node])
            node = np.where(self.is_leaf[node], node, step)
        return self.leaf_value[node].sum(axis=1)


def _concat(trees: list[dict[str, np.ndarray]], depth: int, *, float32_inputs: bool) -> PackedForest:
    offsets = np.cumsum([0] + [t["feature"].size for t in trees[:-1]])
    cat = {k: np.concatenate([t[k] for t in trees]) for k in ("feature", "threshold", "missing_left", "is_leaf", "leaf_value")}
    left = np.concatenate([t["left"] + o for t, o in zip(trees, offsets)])
    right = np.concatenate([t["right"] + o for t, o in zip(trees, offsets)])
    is_leaf = cat["is_leaf"].astype(bool)
    idx = np.arange(is_leaf.size)
    return PackedForest(
        feature=np.where(is_leaf, 0, cat["feature"]).astype(np.int64),
        threshold=cat["threshold"].astype(np.float64),
        left=np.where(is_leaf, idx, left).astype(np.int64),
        right=np.where(is_leaf, idx, right).astype(np.int64),
        missing_left=cat["missing_left"].astype(bool),
        is_leaf=is_leaf,
        leaf_value=np.where(is_leaf, cat["leaf_value"], 0.0),
        roots=offsets.astype(np.int64),
        depth=int(depth),
        float32_inputs=float32_inputs,
    )


def pack_hist_gradient_boosting(model) -> tuple[PackedForest, float]:
    """A fitted binary HistGradientBoostingClassifier as a packed forest and its baseline (raw) score."""
    trees = []
    depth = 0
    for (predictor,) in model._predictors:
        nodes = predictor.nodes
        if nodes["is_categorical"].any():
            raise ValueError("packing supports numeric splits only")
        depth = max(depth, int(nodes["depth"].max()))
        trees.append({
            "feature": nodes["feature_idx"].astype(np.int64),
            "threshold": nodes["num_threshold"],
            "left": nodes["left"].astype(np.int64),
            "right": nodes["right"].astype(np.int64),
            "missing_left": nodes["missing_go_to_left"],
            "is_leaf": nodes["is_leaf"],
            "leaf_value": nodes["value"],
        })
    baseline = float(np.ravel(model._baseline_prediction)[0])
    return _concat(trees, depth, float32_inputs=False), baseline


def pack_isolation_forest(model) -> tuple[PackedForest, float]:
    """A fitted IsolationForest (max_features=1.0) as a packed forest and the divisor of its path lengths.

    ``score = 2 ** (-raw_sum(X) / divisor)`` equals ``-model.score_samples(X)``.
    """
    from sklearn.ensemble._iforest import _average_path_length

    if model._max_features != model.n_features_in_:
        raise ValueError("packing needs an IsolationForest fitted with max_features=1.0")
    trees = []
    depth = 0
    for est, path_len, avg_len in zip(model.estimators_, model._decision_path_lengths, model._average_path_length_per_tree):
        tree = est.tree_
        leaf = tree.children_left == -1
        depth = max(depth, int(tree.max_depth))
        trees.append({
            "feature": np.where(leaf, 0, tree.feature).astype(np.int64),
            "threshold": tree.threshold,
            "left": np.where(leaf, 0, tree.children_left).astype(np.int64),
            "right": np.where(leaf, 0, tree.children_right).astype(np.int64),
            "missing_left": np.zeros(leaf.size, dtype=bool),
            "is_leaf": leaf,
            "leaf_value": path_len + avg_len - 1.0,
        })
    divisor = len(model.estimators_) * float(_average_path_length([model._max_samples])[0])
    return _concat(trees, depth, float32_inputs=True), divisor
