"""Batch lays out the feature matrix once; it is the stacked matrix and anomaly column to the last bit."""
from __future__ import annotations

import numpy as np
import pytest

from riskengine.batch._model import _full_matrix
from riskengine.model import load_model, train
from riskengine.model._features import columns_from_frame
from riskengine.model._isolation import isolation_scorer
from riskengine.synth import generate_history_frame


@pytest.mark.parametrize("labels", ["fraud", None])
def test_full_matrix_is_the_stacked_features_and_filled_anomaly_score(tmp_path, labels):
    train(generate_history_frame(4_000, seed=5), labels=labels, out_dir=tmp_path, progress=False)
    model = load_model(tmp_path)
    est = model.estimator
    assert est.mode_ == ("supervised" if labels else "unsupervised")
    lines = generate_history_frame(2_500, seed=6)
    rng = np.random.default_rng(7)
    for name in ("value", "net_mass_kg", "quantity"):  # missing and impossible numbers: filled for the forest
        lines.loc[rng.random(len(lines)) < 0.1, name] = np.nan
        lines.loc[rng.random(len(lines)) < 0.05, name] = -1.0
    cols = columns_from_frame(model._aligned(lines), est.features_.passthrough)
    derived = est.features_.derive(cols)
    matrix = est.features_.transform(cols, derived)
    sub = matrix[:, est.anomaly_columns_]
    assert not np.isfinite(sub).all()
    expected = np.column_stack([matrix, isolation_scorer(est.isolation_).anomaly(est._filled(sub))])
    got = _full_matrix(est, cols, derived)
    assert got.flags.c_contiguous and got.dtype == np.float64
    assert np.array_equal(got.view(np.int64), expected.view(np.int64))
    assert np.array_equal(got[:, -1], -est.isolation_.score_samples(est._filled(sub)))
