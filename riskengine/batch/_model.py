"""The model stage over many declarations: line scores, each declaration's worst line, its explanation.

Isolation scores come from scikit-learn's compiled tree walks over whole chunks
(`riskengine.model._isolation`); a booster's scores from the leaves every line reaches, which
`riskengine.model._gains` needs anyway to explain the worst lines. The online path walks the same
trees in numpy (faster for a handful of rows); the two agree to about 1e-15, far below the rounding
of a decision's score (2 decimals) and of the model's score in its reasons (4 decimals).
Explanations probe the worst line of every declaration in one stacked matrix instead of one predict
per declaration; each probe row is the one `explain_line` builds. A supervised model's probes are
not scored row by row at all: `riskengine.model._gains` walks only the trees where a probe leaves
the line's own path.
"""
from __future__ import annotations

from itertools import islice

import numpy as np
import pandas as pd

from riskengine.model._explain import phrase_many
from riskengine.model._features import columns_from_frame
from riskengine.model._gains import booster_leaves
from riskengine.model._isolation import isolation_scorer

__all__ = ["ModelResult", "score_declarations"]

BLOCK = 200_000  # rows per isolation forest call: bounds the probe matrix of an unsupervised model


class ModelResult:
    """Per declaration: the worst line's score and its top features in words."""

    def __init__(self, scores: np.ndarray, features: list[tuple[str, ...]]) -> None:
        self.scores = scores
        self.features = features


def _blocks(n: int):
    for start in range(0, n, BLOCK):
        yield slice(start, min(start + BLOCK, n))


def _anomaly(est, matrix: np.ndarray) -> np.ndarray:
    """`RiskModel._anomaly` through scikit-learn's tree walks whatever the row count."""
    sub = matrix[:, est.anomaly_columns_] if est.anomaly_columns_.size else np.zeros((matrix.shape[0], 1))
    return isolation_scorer(est.isolation_).anomaly(est._filled(sub))


def _full_matrix(est, cols: dict[str, np.ndarray], derived: dict[str, np.ndarray]) -> np.ndarray:
    """The feature matrix and its anomaly column, laid out once in the dtypes the two walks read.

    Each feature column goes straight into the float64 matrix the booster walks and, filled, into
    the float32 matrix the isolation trees walk: no stacked, selected, filled and converted copies.
    """
    columns = est.features_.transform_columns(cols, derived)
    n = next(iter(cols.values())).size
    full = np.empty((n, len(columns) + 1))
    for j, column in enumerate(columns):
        full[:, j] = column
    scorer = isolation_scorer(est.isolation_)
    if not (est.anomaly_columns_.size and scorer.exact):
        for part in _blocks(n):
            full[part, -1] = _anomaly(est, full[part, :-1])
        return full
    anomaly = list(zip(est.anomaly_columns_.tolist(), est.fill_.tolist()))
    for part in _blocks(n):
        sub = np.empty((part.stop - part.start, len(anomaly)), dtype=np.float32)
        for k, (j, fill) in enumerate(anomaly):
            column = columns[j][part]
            sub[:, k] = np.where(np.isfinite(column), column, fill)  # as `RiskModel._filled`, then float32
        full[part, -1] = scorer.anomaly(sub)
    return full


def _probe_anomaly(est, probe: np.ndarray) -> np.ndarray:
    """An unsupervised model's score of probe rows (a supervised model's probes go through `_gains`)."""
    out = np.empty(probe.shape[0])
    for part in _blocks(probe.shape[0]):
        out[part] = _anomaly(est, probe[part, :-1])
    return out


def _worst_lines(scores: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each declaration's highest-scoring line, the first on ties (as np.argmax online); NaN scores lose."""
    decl = np.repeat(np.arange(len(starts)), np.diff(np.append(starts, len(scores))))
    top = np.fmax.reduceat(scores, starts)[decl]
    at_top = np.flatnonzero((scores == top) | np.isnan(top))  # all-NaN declaration: its first line
    first = np.ones(at_top.size, dtype=bool)
    first[1:] = decl[at_top][1:] != decl[at_top][:-1]
    return at_top[first]


def _by_gain(who: np.ndarray, which: np.ndarray, gain: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``np.lexsort((-gain, who))`` of probes (who, which) in row-major order, as one short sort per row.

    A row has a probe per feature group at most, so sorting its (padded) row of gains is much cheaper
    than sorting all probes by two keys.
    """
    key = np.full(shape, np.inf)  # padding sorts after every gain (NaN after it, as in lexsort)
    key[who, which] = -gain
    slot = np.full(shape, -1, dtype=np.int64)
    slot[who, which] = np.arange(who.size)
    order = np.take_along_axis(slot, np.argsort(key, axis=1, kind="stable"), axis=1).ravel()
    return order[order >= 0]


def score_declarations(model, lines: pd.DataFrame, starts: np.ndarray, *, top: int = 3) -> ModelResult:
    """Score the lines (canonical columns, one declaration's lines adjacent) and explain each declaration."""
    est = model.estimator
    cols = columns_from_frame(model._aligned(lines), est.features_.passthrough)
    derived = est.features_.derive(cols)
    full = _full_matrix(est, cols, derived)
    if est.mode_ == "supervised":
        # the leaves of every line give its score and, for the lines explained, the probes' start
        tables = booster_leaves(est, model._groups)
        raw, leaves = tables.leaves(full)
        line_scores = tables.probability(raw)
    else:
        line_scores = full[:, -1]
    n_decl = len(starts)
    worst = _worst_lines(line_scores, starts)
    worst_scores = line_scores[worst]
    features: list[tuple[str, ...]] = [()] * n_decl
    explained = np.flatnonzero(worst_scores >= model.explain_min_score)  # as `score_declaration` online
    if explained.size:
        rows = worst[explained]
        probe = None
        scores = worst_scores[explained]
        if est.mode_ == "supervised":
            scores = tables.probability(raw[rows])
            probe = (tables, raw[rows], np.ascontiguousarray(leaves[rows]))
        for d, words in zip(explained.tolist(), _explain(model, derived, full, rows, scores, top=top, probe=probe)):
            features[d] = words
    return ModelResult(worst_scores, features)


def _explain(model, derived, full: np.ndarray, rows: np.ndarray, scores: np.ndarray, *, top: int,
             probe=None) -> list[tuple[str, ...]]:
    est = model.estimator
    groups = model._groups
    reference = est.reference_
    worst = full[rows]
    names = list(groups)
    differs = np.empty((len(rows), len(names)), dtype=bool)
    for j, g in enumerate(names):
        idx = groups[g]
        a, b = worst[:, idx], reference[idx][None, :]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        differs[:, j] = ~same.all(axis=1)
    who, which = np.nonzero(differs)  # row-major: per declaration, groups in dict order, as explain_line
    if probe is not None:
        tables, raw, leaves = probe
        gain = scores[who] - tables.probability(tables.probe_raw(worst, raw, leaves, who, which))
    else:
        rows_ = worst[who]
        for j, g in enumerate(names):
            sel = which == j
            if sel.any():
                rows_[np.ix_(np.flatnonzero(sel), groups[g])] = reference[groups[g]]
        gain = scores[who] - _probe_anomaly(est, rows_)
    # per declaration the groups by gain, best first, ties in group order (a stable sort, as explain_line);
    # the first `top` of them are named, up to the first that raises the score by no more than 1e-6
    order = _by_gain(who, which, gain, (len(rows), len(names)))
    first = np.searchsorted(who, np.arange(len(rows)))[who[order]]
    small = gain[order] <= 1e-6
    small_before = np.cumsum(small) - small
    named = order[(np.arange(order.size) - first < top) & ~small & (small_before == small_before[first])]
    index = {n: k for k, n in enumerate(est.feature_names_)}
    items = [(names[j], int(rows[r]), worst[r]) for r, j in zip(who[named].tolist(), which[named].tolist())]
    phrases = iter(phrase_many(items, derived, index, est.features_))
    return [tuple(islice(phrases, count)) for count in np.bincount(who[named], minlength=len(rows)).tolist()]
