"""The compiled walk of all trees gives scikit-learn's leaves and scores to the last bit."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest

import riskengine.model._gains as gains
import riskengine.model._isolation as isolation
from riskengine.model import _walk  # the install builds it: a missing extension fails here, not skips
from riskengine.model._gains import BoosterLeaves, booster_leaves
from riskengine.model._isolation import IsolationScorer


def _python_path(monkeypatch, call):
    """`call()` through scikit-learn's per-tree walks, as where the extension is not built."""
    with monkeypatch.context() as m:
        m.setattr(isolation, "_walk", None)
        m.setattr(gains, "_walk", None)
        return call()


def _awkward(X: np.ndarray, thresholds: list[tuple[int, float]], rng) -> np.ndarray:
    """X with NaN, +-inf, and values exactly on the trees' thresholds (and next to them)."""
    X = X.copy()
    n, d = X.shape
    X[rng.random((n, d)) < 0.05] = np.nan
    X[rng.random((n, d)) < 0.02] = np.inf
    X[rng.random((n, d)) < 0.02] = -np.inf
    rows = rng.integers(0, n, len(thresholds))
    for row, (feature, threshold) in zip(rows, thresholds):
        X[row, feature] = threshold
    for feature, threshold in thresholds[:50]:
        X = np.vstack([X, X[:3]])
        X[-3, feature], X[-2, feature], X[-1, feature] = threshold, np.nextafter(threshold, -np.inf), \
            np.nextafter(threshold, np.inf)
    return X


# -- isolation forest ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def forest():
    X = np.random.default_rng(3).normal(size=(2000, 6))
    return IsolationForest(n_estimators=40, random_state=0).fit(X)


def _forest_thresholds(forest) -> list[tuple[int, float]]:
    out = []
    for tree in forest.estimators_:
        inner = tree.tree_.children_left != -1
        # the walk compares a float32 value: the float32 on (or next to) the float64 threshold
        out += [(int(f), float(np.float32(t))) for f, t in zip(tree.tree_.feature[inner], tree.tree_.threshold[inner])]
    return out


def test_isolation_walk_equals_score_samples(forest):
    X = np.random.default_rng(4).normal(size=(5000, 6))
    assert np.array_equal(IsolationScorer(forest).anomaly(X), -forest.score_samples(X))


def test_isolation_walk_equals_the_per_tree_walks_on_nan_inf_and_thresholds(forest, monkeypatch):
    rng = np.random.default_rng(5)
    X = _awkward(rng.normal(size=(3000, 6)), _forest_thresholds(forest), rng)
    scorer = IsolationScorer(forest)
    expected = _python_path(monkeypatch, lambda: scorer.anomaly(X))
    assert np.array_equal(scorer.anomaly(X), expected, equal_nan=True)
    finite = np.isfinite(X).all(axis=1)
    assert np.array_equal(scorer.anomaly(X[finite]), -forest.score_samples(X[finite]))


def test_isolation_walk_takes_one_row_no_row_and_a_strided_view(forest):
    X = np.random.default_rng(6).normal(size=(400, 12))
    scorer = IsolationScorer(forest)
    view = X[::3, ::2]  # neither row- nor column-contiguous
    assert np.array_equal(scorer.anomaly(view), -forest.score_samples(view))
    assert np.array_equal(scorer.anomaly(view[:1]), -forest.score_samples(view[:1]))
    assert scorer.anomaly(view[:0]).shape == (0,)


def test_isolation_walk_accepts_nan_routed_by_the_tree(forest, monkeypatch):
    scorer = IsolationScorer(forest)
    X = np.full((4, 6), np.nan)
    assert np.array_equal(scorer.anomaly(X), _python_path(monkeypatch, lambda: scorer.anomaly(X)))


# -- booster ------------------------------------------------------------------------------------

def _tables(booster, groups: dict[str, np.ndarray] | None = None, reference: np.ndarray | None = None) -> BoosterLeaves:
    """Leaf tables of a bare HistGradientBoostingClassifier (categorical splits too), feature groups if given."""
    predictors = [p for (p,) in booster._predictors]
    nodes = np.concatenate([p.nodes for p in predictors])
    roots = np.cumsum([0] + [p.nodes.size for p in predictors[:-1]])
    offset = np.repeat(roots, [p.nodes.size for p in predictors])
    leaf = nodes["is_leaf"].astype(bool)
    own = np.arange(leaf.size)
    packed = SimpleNamespace(
        roots=roots, is_leaf=leaf, feature=np.where(leaf, 0, nodes["feature_idx"]).astype(np.int64),
        threshold=nodes["num_threshold"], missing_left=nodes["missing_go_to_left"].astype(bool),
        left=np.where(leaf, own, nodes["left"] + offset), right=np.where(leaf, own, nodes["right"] + offset),
        leaf_value=np.where(leaf, nodes["value"], 0.0),
    )
    est = SimpleNamespace(booster_=booster, _packed_booster_=(packed, float(booster._baseline_prediction.ravel()[0])),
                          feature_names_=[f"x{i}" for i in range(booster.n_features_in_)],
                          reference_=np.zeros(booster.n_features_in_) if reference is None else reference)
    return BoosterLeaves(est, groups or {})


@pytest.fixture(scope="module")
def categorical_booster():
    rng = np.random.default_rng(7)
    n = 4000
    colour, shape = rng.integers(0, 40, n).astype(float), rng.integers(0, 9, n).astype(float)
    x = rng.normal(size=(n, 2))
    x[rng.random((n, 2)) < 0.1] = np.nan
    colour[rng.random(n) < 0.05] = np.nan
    y = ((colour % 7 == 1) | (shape == 3) | (x[:, 0] > 0.8)) ^ (rng.random(n) < 0.1)
    X = np.column_stack([colour, x[:, 0], shape, x[:, 1]])
    booster = HistGradientBoostingClassifier(categorical_features=[0, 2], max_iter=30, random_state=0).fit(X, y)
    return booster, X


def test_categorical_booster_leaves_equal_the_per_tree_predictors(categorical_booster, monkeypatch):
    booster, X = categorical_booster
    assert any(p.nodes["is_categorical"].any() for (p,) in booster._predictors)
    rng = np.random.default_rng(8)
    X = _awkward(X, [], rng)
    X[rng.integers(0, len(X), 200), 0] = rng.choice([-1.0, -0.5, 40.0, 41.0, 255.0, 256.0, 257.0, 300.5, 2.0**31,
                                                     2.0**32 + 1, 1e300, np.inf, -np.inf, np.nan, 3.7], 200)
    X[rng.integers(0, len(X), 100), 2] = rng.choice([-3.0, 9.0, 200.0, 263.0, np.nan], 100)
    tables = _tables(booster)
    raw, leaves = tables.leaves(X)
    expected_raw, expected_leaves = _python_path(monkeypatch, lambda: tables.leaves(X))
    assert np.array_equal(leaves, expected_leaves)
    assert np.array_equal(raw, expected_raw)


def test_categorical_booster_scores_equal_predict_proba(categorical_booster):
    booster, X = categorical_booster
    X = X.copy()
    X[::13, 0] = 99.0  # unknown category: missing for predict_proba, after its encoder
    tables = _tables(booster)
    raw, _ = tables.leaves(booster._preprocess_X(X, reset=False))
    assert np.array_equal(tables.probability(raw), booster.predict_proba(X)[:, 1])


@pytest.fixture(scope="module")
def numeric_booster():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(3000, 5))
    X[rng.random(X.shape) < 0.1] = np.nan
    y = (np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) ** 2 + rng.normal(size=3000) > 1.0)
    return HistGradientBoostingClassifier(max_iter=40, random_state=0).fit(X, y), X


def test_numeric_booster_equals_predict_proba_and_predictors_on_nan_inf_and_thresholds(numeric_booster, monkeypatch):
    booster, X = numeric_booster
    thresholds = [(int(f), float(t)) for (p,) in booster._predictors
                  for f, t, leaf in zip(p.nodes["feature_idx"], p.nodes["num_threshold"], p.nodes["is_leaf"]) if not leaf]
    X = _awkward(X, thresholds, np.random.default_rng(10))
    tables = _tables(booster)
    raw, leaves = tables.leaves(X, block=97)  # several blocks and a ragged last one
    expected_raw, expected_leaves = _python_path(monkeypatch, lambda: tables.leaves(X))
    assert np.array_equal(leaves, expected_leaves) and np.array_equal(raw, expected_raw)
    finite = ~np.isinf(X).any(axis=1)  # predict_proba takes NaN, not inf
    assert np.array_equal(tables.probability(raw[finite]), booster.predict_proba(X[finite])[:, 1])


def test_booster_walk_on_one_row_no_row_a_strided_view_and_threads(numeric_booster, monkeypatch):
    booster, X = numeric_booster
    tables = _tables(booster)
    wide = np.repeat(X, 2, axis=1)[:, ::2]  # not contiguous
    for rows in (wide[:1], wide[:0], wide):
        raw, leaves = tables.leaves(rows)
        expected_raw, expected_leaves = _python_path(monkeypatch, lambda: tables.leaves(rows))
        assert np.array_equal(raw, expected_raw) and np.array_equal(leaves, expected_leaves)
    big = np.tile(X, (4, 1))  # enough rows for one range per thread
    monkeypatch.setattr(gains, "_openmp_effective_n_threads", lambda: 2)
    raw, leaves = tables.leaves(big)
    monkeypatch.setattr(gains, "_openmp_effective_n_threads", lambda: 1)
    assert np.array_equal((raw, leaves)[0], tables.leaves(big)[0]) and np.array_equal(leaves, tables.leaves(big)[1])


def _probes(booster, X, rng):
    """Leaf tables with three feature groups (a NaN and a threshold among the reference values), rows and probes."""
    thresholds = [(int(f), float(t)) for (p,) in booster._predictors
                  for f, t, leaf in zip(p.nodes["feature_idx"], p.nodes["num_threshold"], p.nodes["is_leaf"]) if not leaf]
    reference = np.array([0.1, np.nan, thresholds[0][1] if thresholds[0][0] == 2 else -0.3, 0.5, 0.0])
    groups = {"a": np.array([0, 3]), "b": np.array([1]), "c": np.array([2])}  # feature 4 in no group
    tables = _tables(booster, groups, reference)
    X = _awkward(X, thresholds, rng)
    raw, leaves = tables.leaves(X)
    who, which = np.nonzero(rng.random((len(X), len(groups))) < 0.7)  # row-major, as batch makes them
    return tables, X, raw, np.ascontiguousarray(leaves), np.ascontiguousarray(who), np.ascontiguousarray(which)


def test_compiled_probes_equal_the_numpy_probes_to_the_last_bit(numeric_booster, monkeypatch):
    booster, X = numeric_booster
    tables, X, raw, leaves, who, which = _probes(booster, X, np.random.default_rng(11))
    got = tables.probe_raw(X, raw, leaves, who, which)
    expected = _python_path(monkeypatch, lambda: tables.probe_raw(X, raw, leaves, who, which, block=97))
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))
    # and they are the scores of the probe rows themselves, up to the order of the sum
    probes = X[who]
    for j, idx in enumerate([np.array([0, 3]), np.array([1]), np.array([2])]):
        probes[np.ix_(np.flatnonzero(which == j), idx)] = tables.reference[idx]
    np.testing.assert_allclose(got, tables.leaves(probes)[0], rtol=0, atol=1e-12)
    one = tables.probe_raw(X, raw, leaves, who[:1], which[:1])
    assert one.shape == (1,) and one[0] == got[0] and tables.probe_raw(X, raw, leaves, who[:0], which[:0]).size == 0


def test_bad_probes_are_refused(numeric_booster):
    booster, X = numeric_booster
    tables, X, raw, leaves, who, which = _probes(booster, X[:50], np.random.default_rng(12))
    out = np.empty(who.size)
    args = [tables.nodes, tables.leaf_value, tables.probe_group, X, tables.reference, raw, leaves, who, which,
            tables.probe_mask, tables.probe_start, out]
    _walk.probe(*args)
    for i, bad, message in [(7, np.r_[who[:-1], 0], "who must be sorted"),
                            (8, np.full(which.size, 3), "which groups of start"),
                            (7, np.r_[who[:1], who[:-1]], "one probe per"),
                            (6, np.full_like(leaves, -1), "leaves must be nodes"),
                            (10, np.full_like(tables.probe_start, tables.nodes.size), "start must be"),
                            (2, np.full(5, 7, dtype=np.int32), "group must be"),
                            (11, out[:-1], "a value per probe"),
                            (6, leaves.T.copy(), "a row per row of X"),
                            (9, tables.mask, "mask must be")]:
        with pytest.raises(ValueError, match=message):
            _walk.probe(*args[:i], bad, *args[i + 1:])


def test_the_models_booster_walk_equals_the_per_tree_predictors(supervised, split, monkeypatch):
    est = supervised.estimator
    full = est.feature_matrix(est._cols(supervised._aligned(split[1])))
    tables = booster_leaves(est, supervised._groups)
    expected_raw, expected_leaves = _python_path(monkeypatch, lambda: tables.leaves(full))
    raw, leaves = tables.leaves(full)
    assert np.array_equal(raw, expected_raw) and np.array_equal(leaves, expected_leaves)


# -- bad buffers --------------------------------------------------------------------------------

def test_bad_buffers_are_refused_naming_the_argument(forest, numeric_booster):
    s = IsolationScorer(forest)
    X = np.zeros((10, 6), dtype=np.float32)
    out = np.empty(10)
    with pytest.raises(ValueError, match="X must be a 2-dimensional array of 4-byte"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X.astype(np.float64), out, 0, 10, 64)
    with pytest.raises(ValueError, match="X must be"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X[0], out, 0, 10, 64)
    with pytest.raises(TypeError, match="X must be a C-contiguous"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X[:, ::2], out, 0, 10, 64)
    with pytest.raises(TypeError, match="out must be a writable"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X, bytes(80), 0, 10, 64)
    with pytest.raises(ValueError, match="out has 9 rows"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X, out[:9], 0, 10, 64)
    with pytest.raises(ValueError, match="roots must be"):
        _walk.isolation(s.nodes, s.roots.astype(np.int64), s.node_depth, X, out, 0, 10, 64)
    with pytest.raises(ValueError, match="nodes must be"):
        _walk.isolation(s.nodes.view(np.uint8), s.roots, s.node_depth, X, out, 0, 10, 64)
    with pytest.raises(ValueError, match="rows 0:11"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X, out, 0, 11, 64)
    with pytest.raises(ValueError, match="tests column"):
        _walk.isolation(s.nodes, s.roots, s.node_depth, X[:, :2].copy(), out, 0, 10, 64)
    broken = s.nodes.copy()
    broken["child"][0] = 0  # a cycle
    with pytest.raises(ValueError, match="children of node 0"):
        _walk.isolation(broken, s.roots, s.node_depth, X, out, 0, 10, 64)
    t = _tables(numeric_booster[0])
    Xb, raw = np.zeros((10, 5)), np.empty(10)
    leaves = np.empty((len(t.roots), 10), dtype=np.int32)
    args = [t.nodes, t.roots, t.leaf_value, Xb, 0.0, t.raw_left_cat_bitsets, t.known_cat_bitsets, t.f_idx_map,
            raw, leaves, 0, 10, 64]
    _walk.booster(*args)
    for i, bad, message in [(5, np.zeros((1, 8), dtype=np.int64), "raw_left_cat_bitsets must be"),
                            (6, np.zeros((1, 4), dtype=np.uint32), "must have 8 columns"),
                            (7, t.f_idx_map.astype(np.int64), "f_idx_map must be"),
                            (9, leaves.T.copy(), "leaves"),
                            (9, leaves.astype(np.int64), "leaves must be")]:
        with pytest.raises(ValueError, match=message):
            _walk.booster(*args[:i], bad, *args[i + 1:])
