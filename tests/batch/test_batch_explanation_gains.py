"""Batch's explanation gains, from diverging trees only, are those of scoring every probe row."""
from __future__ import annotations

import numpy as np

from riskengine.model import load_model, train
from riskengine.model._features import columns_from_frame
from riskengine.model._gains import booster_leaves
from riskengine.synth import generate_history_frame


def test_probes_walked_in_diverging_trees_score_as_the_whole_booster(tmp_path):
    # the demo world's model is unsupervised; generated history with outcomes gives a booster
    history = generate_history_frame(6_000, seed=5)
    train(history, labels="fraud", out_dir=tmp_path, progress=False)
    model = load_model(tmp_path)
    est = model.estimator
    assert est.mode_ == "supervised"
    lines = generate_history_frame(1_500, seed=6)
    cols = columns_from_frame(model._aligned(lines), est.features_.passthrough)
    full = est.feature_matrix(cols)
    tables = booster_leaves(est, model._groups)
    raw, leaves = tables.leaves(full)
    assert np.array_equal(tables.probability(raw), est.booster_.predict_proba(full)[:, 1])

    names = list(model._groups)
    who = np.repeat(np.arange(len(full)), len(names))
    which = np.tile(np.arange(len(names)), len(full))
    probes = full[who]
    for j, g in enumerate(names):
        probes[np.ix_(np.flatnonzero(which == j), model._groups[g])] = est.reference_[model._groups[g]]
    expected = est.booster_.predict_proba(probes)[:, 1]
    got = tables.probability(tables.probe_raw(full, raw, leaves, who, which, block=97))
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
