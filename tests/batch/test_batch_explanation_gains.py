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


def test_batch_explains_exactly_the_declarations_online_explains_above_the_models_floor(tmp_path):
    from riskengine.batch._frame import declaration_bounds, normalise_lines
    from riskengine.batch._model import score_declarations

    history = generate_history_frame(6_000, seed=5)
    train(history, labels="fraud", out_dir=tmp_path, progress=False, explain_min_score=0.05)
    model = load_model(tmp_path)
    assert model.explain_min_score == 0.05 and model.card.explain_min_score == 0.05
    lines = normalise_lines(generate_history_frame(1_500, seed=6))
    starts = declaration_bounds(lines)
    batch = score_declarations(model, lines, starts)
    ends = np.append(starts[1:], len(lines))
    below = above = 0
    for d, (lo, hi) in enumerate(zip(starts, ends)):
        online = model.score_declaration(lines.iloc[lo:hi].to_dict("records"))
        assert abs(online.score - batch.scores[d]) < 1e-12
        assert list(batch.features[d]) == online.top_features, d
        if online.score < 0.05:
            below += 1
            assert online.top_features == []
        else:
            above += 1
            assert online.top_features  # a high score always names what raised it
    assert below > 100 and above > 20, (below, above)


def test_a_model_without_a_floor_explains_low_scores_too_and_old_cards_have_none(tmp_path):
    from riskengine.model._artifact import ModelCard

    train(generate_history_frame(6_000, seed=5), labels="fraud", out_dir=tmp_path, progress=False, explain_min_score=0.0)
    model = load_model(tmp_path)
    lines = generate_history_frame(200, seed=8)
    results = [model.score_declaration([row]) for row in lines.to_dict("records")]
    low = [r for r in results if r.score < 0.05]
    assert low and all(r.top_features for r in low)
    card = model.card.to_dict()
    del card["explain_min_score"]  # a card written before the floor existed
    assert ModelCard.from_dict(card).explain_min_score == 0.0


def test_probes_ranked_row_by_row_in_the_order_of_a_two_key_lexsort():
    from riskengine.batch._model import _by_gain

    rng = np.random.default_rng(4)
    differs = rng.random((300, 14)) < 0.8
    who, which = np.nonzero(differs)  # row-major, as _explain makes them
    gain = rng.choice([0.0, 1e-7, 0.02, 0.3, np.inf, -np.inf, np.nan], size=who.size)  # many ties
    assert np.array_equal(_by_gain(who, which, gain, differs.shape), np.lexsort((-gain, who)))
