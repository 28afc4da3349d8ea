"""Phrasing many explanations at once says what phrasing each one alone says."""
from __future__ import annotations

from riskengine.model._explain import _phrase, phrase_many


def test_phrase_many_equals_phrasing_each_group_of_each_line(supervised, split):
    est = supervised.estimator
    cols = est._cols(supervised._aligned(split[1]))
    derived = est.features_.derive(cols)
    full = est.feature_matrix(cols, derived)
    names = {n: k for k, n in enumerate(est.feature_names_)}
    items = [(group, i, full[i]) for i in range(0, len(full), 7) for group in supervised._all_groups]
    expected = [_phrase(group, derived, i, row, names, est.features_) for group, i, row in items]
    assert phrase_many(items, derived, names, est.features_) == expected
    assert len(set(expected)) < len(expected)  # some category values repeat, so the memo is used
