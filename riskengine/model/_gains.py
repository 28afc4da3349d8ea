"""Explanation gains of many lines at once, without scoring a probe row per feature group.

`explain_line` sets one feature group of a line back to its reference value and scores that probe
row again. In a tree the probe takes the line's own path until the first node that tests a feature
of the group and sends the reference value the other way; in every tree where that never happens
the probe lands on the line's own leaf. Which trees diverge, and where, is a property of the
line's leaf alone (the reference values are constants), so it is tabled once per model. Batch then
walks only the diverging trees from their divergence node: the probe's raw score is the line's raw
score plus the change of leaf value in those trees. The result is the probe's score up to float
summation order (about 1e-16), far below the 1e-6 a gain must exceed to be named.

The leaves of every line come from the compiled `riskengine.model._walk` (all trees per call, with
scikit-learn's decisions and sums), or from scikit-learn's predictor of each tree where it is not built.
The probes' walks too are compiled (`_walk.probe`); numpy walks them, to the same bits, where it is not.
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.utils._openmp_helpers import _openmp_effective_n_threads

from riskengine.model._isolation import BLOCK, _walk, node_table

__all__ = ["BoosterLeaves", "booster_leaves"]

_CACHE: dict[tuple[int, tuple[str, ...]], BoosterLeaves] = {}
_POOLS: dict[int, ThreadPoolExecutor] = {}
os.register_at_fork(after_in_child=_POOLS.clear)  # a forked worker has none of the parent's threads
MIN_ROWS_PER_THREAD = 4096  # below this a thread costs more than it saves


class BoosterLeaves:
    """A fitted booster's trees as leaf-index predictors and divergence tables for some feature groups."""

    def __init__(self, est, groups: dict[str, np.ndarray]) -> None:
        booster = est.booster_
        self.packed, self.baseline = est._packed_booster_
        self.loss = booster._loss
        self.known_cat_bitsets, self.f_idx_map = booster._bin_mapper.make_known_categories_bitsets()
        self.predictors = []
        self.offsets = self.packed.roots
        n_features = len(est.feature_names_)
        self.group_of_feature = np.full(n_features, -1, dtype=np.int64)
        for j, idx in enumerate(groups.values()):
            self.group_of_feature[idx] = j
        self.reference = est.reference_.astype(np.float64)
        self.n_groups = len(groups)
        # start[node, j]: for a leaf node (absolute index), where group j's probe leaves the leaf's
        # path (the other child of the divergence node), or -1 if it never does
        self.start = np.full((self.packed.feature.size, self.n_groups), -1, dtype=np.int64)
        p = self.packed
        self.node_group = np.where(p.is_leaf, -1, self.group_of_feature[p.feature])
        self.feature = np.where(p.is_leaf, -1, p.feature)  # -1 marks a leaf
        self.child = np.stack([p.left, p.right], axis=1).ravel()  # child[2 * node + goes_right]
        for t, (predictor,) in enumerate(booster._predictors):
            nodes = predictor.nodes.copy()
            # predict() answers the leaf's absolute index
            nodes["value"] = np.arange(nodes.size, dtype=np.float64) + self.offsets[t]
            self.predictors.append(TreePredictor(nodes, predictor.binned_left_cat_bitsets,
                                                 predictor.raw_left_cat_bitsets))
            self._table(predictor.nodes, int(self.offsets[t]))
        self._walk_tables(booster)
        dtype = np.uint16 if self.n_groups <= 16 else np.uint64
        bit = np.left_shift(np.uint64(1), np.arange(self.n_groups, dtype=np.uint64))
        self.mask = ((self.start >= 0) * bit).sum(axis=1).astype(dtype)  # diverging groups per leaf
        # the same tables as `_walk.probe` reads them
        self.probe_mask = self.mask.astype(np.uint64)
        self.probe_start = self.start.astype(np.int32)
        self.probe_group = self.group_of_feature.astype(np.int32)

    def _walk_tables(self, booster) -> None:
        """The trees as `_walk` reads them: one node table, every tree's categorical bitsets stacked."""
        trees = [predictor for (predictor,) in booster._predictors]
        bitsets = [np.zeros((0, 8), dtype=np.uint32)] + [p.raw_left_cat_bitsets for p in trees]
        first_bitset = np.cumsum([0] + [p.raw_left_cat_bitsets.shape[0] for p in trees[:-1]])
        nodes = np.concatenate([p.nodes for p in trees])
        self.roots = self.offsets.astype(np.int32)
        self.nodes = node_table(
            nodes["is_leaf"].astype(bool), feature=nodes["feature_idx"], threshold=nodes["num_threshold"],
            left=nodes["left"], right=nodes["right"], nan_left=nodes["missing_go_to_left"], roots=self.roots,
            categorical=nodes["is_categorical"],
            bitset=nodes["bitset_idx"] + np.repeat(first_bitset, [p.nodes.size for p in trees]),
        )
        self.raw_left_cat_bitsets = np.ascontiguousarray(np.concatenate(bitsets), dtype=np.uint32)
        self.known_cat_bitsets = np.ascontiguousarray(self.known_cat_bitsets, dtype=np.uint32).reshape(-1, 8)
        self.f_idx_map = np.ascontiguousarray(self.f_idx_map, dtype=np.uint32)
        self.leaf_value = np.ascontiguousarray(self.packed.leaf_value, dtype=np.float64)

    def _table(self, nodes, offset: int) -> None:
        ref, group = self.reference, self.group_of_feature
        stack = [(0, {})]  # node, group -> absolute start node of the first divergence on the path
        while stack:
            node, diverged = stack.pop()
            rec = nodes[node]
            if rec["is_leaf"]:
                for j, start in diverged.items():
                    self.start[offset + node, j] = start
                continue
            left, right = int(rec["left"]), int(rec["right"])
            j = int(group[rec["feature_idx"]])
            for child, went_left in ((left, True), (right, False)):
                mark = diverged
                if j >= 0 and j not in diverged:
                    value = ref[rec["feature_idx"]]
                    ref_left = bool(rec["missing_go_to_left"]) if np.isnan(value) else value <= rec["num_threshold"]
                    if ref_left != went_left:
                        mark = {**diverged, j: offset + (left if ref_left else right)}
                stack.append((child, mark))

    def leaves(self, X: np.ndarray, *, block: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Each row's raw score (summed as scikit-learn sums it) and absolute leaf index in every tree.

        Rows go in blocks that stay in the CPU cache while every tree walks them; the leaves come
        back as a (rows, trees) view of a tree-major array.
        """
        X = np.ascontiguousarray(X, dtype=np.float64)
        n = X.shape[0]
        leaves = np.empty((len(self.predictors), n), dtype=np.int32)
        # as scikit-learn's predict: every core unless a threadpool limit says otherwise (batch
        # workers limit themselves to one thread, since they already fill the cores)
        threads = _openmp_effective_n_threads()
        if _walk is not None:
            raw = np.empty(n)
            self._walk(X, raw, leaves, threads=threads, block=block or BLOCK)
            return raw, leaves.T
        block = block or 8192
        raw = np.zeros((n, 1), dtype=np.float64, order="F")
        raw += self.baseline
        values = self.packed.leaf_value
        for start in range(0, n, block):
            rows, out = X[start:start + block], raw[start:start + block, 0]
            for t, predictor in enumerate(self.predictors):
                leaf = leaves[t, start:start + block]
                leaf[:] = predictor.predict(rows, self.known_cat_bitsets, self.f_idx_map, threads)
                out += values[leaf]
        return raw[:, 0], leaves.T

    def _walk(self, X: np.ndarray, raw: np.ndarray, leaves: np.ndarray, *, threads: int, block: int) -> None:
        """`_walk.booster` over all rows: in one call, or in one range of rows per thread."""
        def walk(start: int, stop: int) -> None:
            _walk.booster(self.nodes, self.roots, self.leaf_value, X, self.baseline, self.raw_left_cat_bitsets,
                          self.known_cat_bitsets, self.f_idx_map, raw, leaves, start, stop, block)

        n = X.shape[0]
        threads = max(1, min(threads, n // MIN_ROWS_PER_THREAD))
        if threads == 1:
            walk(0, n)
            return
        pool = _POOLS.get(threads) or _POOLS.setdefault(threads, ThreadPoolExecutor(threads, "riskengine-walk"))
        bounds = np.linspace(0, n, threads + 1).astype(int).tolist()
        for future in [pool.submit(walk, lo, hi) for lo, hi in zip(bounds[:-1], bounds[1:])]:
            future.result()

    def probability(self, raw: np.ndarray) -> np.ndarray:
        """`predict_proba(...)[:, 1]` of raw scores."""
        return self.loss.predict_proba(raw.reshape(-1, 1))[:, 1]

    def probe_raw(self, X: np.ndarray, raw: np.ndarray, leaves: np.ndarray, who: np.ndarray,
                  which: np.ndarray, *, block: int = 4096) -> np.ndarray:
        """Raw score of each probe (row `who[k]` of X with group `which[k]` at its reference).

        `who` is sorted, one probe per (row, group). The compiled `_walk.probe` walks each probe's
        diverging trees in turn; without it rows go in blocks so the (probe, tree) pairs in memory
        stay bounded.
        """
        out = np.empty(who.size)
        if _walk is not None:
            _walk.probe(self.nodes, self.leaf_value, self.probe_group, np.ascontiguousarray(X, dtype=np.float64),
                        self.reference, np.ascontiguousarray(raw, dtype=np.float64),
                        np.ascontiguousarray(leaves, dtype=np.int32), np.ascontiguousarray(who, dtype=np.int64),
                        np.ascontiguousarray(which, dtype=np.int64), self.probe_mask, self.probe_start, out)
            return out
        bounds = np.searchsorted(who, np.arange(0, X.shape[0] + block, block))
        for b, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
            if hi > lo:
                rows = slice(b * block, (b + 1) * block)
                out[lo:hi] = self._probe_block(X[rows], raw[rows], leaves[rows], who[lo:hi] - b * block, which[lo:hi])
        return out

    def _probe_block(self, X: np.ndarray, raw: np.ndarray, leaves: np.ndarray, who: np.ndarray,
                     which: np.ndarray) -> np.ndarray:
        slot = np.full((X.shape[0], self.n_groups), -1, dtype=np.int64)
        slot[who, which] = np.arange(who.size)
        wanted = np.zeros(X.shape[0], dtype=self.mask.dtype)
        np.bitwise_or.at(wanted, who, (1 << which).astype(self.mask.dtype))
        # per (row, tree) cell: the wanted groups whose probe leaves the row's path in that tree
        masks = (self.mask[leaves] & wanted[:, None]).ravel()
        cell = np.flatnonzero(masks)
        bits = masks[cell]
        # (probe, tree) pairs group by group, each probe's trees in order: the sum below adds them as before
        parts = [cell[bits & self.mask.dtype.type(1 << j) != 0] for j in range(self.n_groups)]
        cell = np.concatenate(parts)
        jj = np.repeat(np.arange(self.n_groups), [part.size for part in parts])
        r = cell // leaves.shape[1]
        leaf = leaves.ravel()[cell]
        node = self.start.ravel()[leaf * self.n_groups + jj]
        p = self.packed
        # the probe reads its own group's features from the reference row appended after X's rows
        values = np.concatenate([X.ravel(), self.reference])
        base = r * X.shape[1]
        pos = np.flatnonzero(self.feature[node] >= 0)
        n = node[pos]
        while pos.size:
            x = values[np.where(self.node_group[n] == jj[pos], X.size, base[pos]) + self.feature[n]]
            right = ~(x <= p.threshold[n]) & ~(np.isnan(x) & p.missing_left[n])  # NaN: the missing side
            n = self.child[2 * n + right]
            node[pos] = n
            live = self.feature[n] >= 0
            pos, n = pos[live], n[live]
        change = p.leaf_value[node] - p.leaf_value[leaf]
        return raw[who] + np.bincount(slot.ravel()[r * self.n_groups + jj], weights=change, minlength=who.size)


def booster_leaves(est, groups: dict[str, np.ndarray]) -> BoosterLeaves:
    """The (cached) leaf tables of a fitted supervised estimator for these feature groups."""
    key = (id(est), tuple(groups))
    tables = _CACHE.get(key)
    if tables is None or tables.packed is not est._packed_booster_[0]:
        tables = _CACHE[key] = BoosterLeaves(est, groups)
    return tables
