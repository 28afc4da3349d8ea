"""RiskModel follows the scikit-learn estimator contract and learns without leaking labels."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from riskengine.model import RiskModel
from riskengine.model._features import FeatureSpace, columns_from_frame, columns_from_rows

# mode="supervised" and tiny leaves because the generic checks fit a dozen to a few hundred rows
# with labels, where "auto" would rightly fall back to the unsupervised detector. Every check
# applies: X may be a plain numeric array (its columns become features as they are).
CHECKED = RiskModel(mode="supervised", min_samples_leaf=2, max_iter=30, n_anomaly_trees=20)


@parametrize_with_checks([CHECKED])
def test_sklearn_contract(estimator, check):
    check(estimator)


def test_clone_keeps_parameters_and_drops_learned_state(split):
    model = RiskModel(smoothing=7.0, max_iter=20).fit(split[0], split[0]["fraud"])
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "booster_")


def test_enough_labels_of_both_classes_give_a_supervised_model(split):
    assert RiskModel(max_iter=20).fit(split[0], split[0]["fraud"]).mode_ == "supervised"


def test_without_labels_the_model_is_unsupervised(split):
    train = split[0]
    assert RiskModel().fit(train).mode_ == "unsupervised"
    assert RiskModel().fit(train, pd.Series([pd.NA] * len(train), dtype="Int64")).mode_ == "unsupervised"


def test_too_few_labels_fall_back_to_unsupervised(split):
    train = split[0]
    y = pd.Series(pd.NA, index=train.index, dtype="Int64")
    y.iloc[:30] = 1
    y.iloc[30:60] = 0
    assert RiskModel(min_labels=50).fit(train, y).mode_ == "unsupervised"
    assert RiskModel(min_labels=20, max_iter=20).fit(train, y).mode_ == "supervised"


def test_scores_are_between_zero_and_one(split):
    for y in (split[0]["fraud"], None):
        scores = RiskModel(max_iter=20).fit(split[0], y).score_samples(split[1])
        assert scores.shape == (len(split[1]),) and ((scores >= 0) & (scores <= 1)).all()


def test_evaluation_rows_features_do_not_depend_on_their_labels(split):
    train, later = split
    model = RiskModel(max_iter=20).fit(train, train["fraud"])
    flipped = later.copy()
    flipped["fraud"] = (1 - later["fraud"].fillna(0)).astype("Int64")
    flipped["critical_fraud"] = 1
    assert np.array_equal(model.score_samples(later), model.score_samples(flipped))


def test_a_training_rows_category_rates_do_not_see_its_own_label(split):
    """Out-of-fold encoding: flipping one row's label leaves its own rate features unchanged."""
    train = split[0]
    y = train["fraud"].to_numpy(dtype=float, na_value=np.nan)
    row = int(np.flatnonzero(~np.isnan(y))[0])
    flipped = y.copy()
    flipped[row] = 1 - flipped[row]
    cols = columns_from_frame(train)
    a, b = FeatureSpace(), FeatureSpace()
    xa, xb = a.fit_transform(cols, y), b.fit_transform(cols, flipped)
    rates = [i for i, n in enumerate(a.feature_names) if n.endswith("_rate")]
    assert rates and np.array_equal(xa[row, rates], xb[row, rates])
    assert not np.array_equal(xa[:, rates], xb[:, rates])  # other rows do learn from it


def test_statistics_come_from_the_training_period_only(split):
    train, later = split
    model = RiskModel(max_iter=20).fit(train, train["fraud"])
    new_importers = set(later["importer_id"]) - set(train["importer_id"])
    assert all(model.features_.counts["importer"].get(k) is None for k in new_importers)


def test_one_declaration_scores_like_the_batch(split):
    train, later = split
    model = RiskModel(max_iter=50).fit(train, train["fraud"])
    rows = later.head(7).to_dict("records")
    online = model.score_samples(rows)
    batch = model.score_samples(later)[:7]
    np.testing.assert_allclose(online, batch, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(model.features_.transform(columns_from_rows(rows)),
                                  model.features_.transform(columns_from_frame(later.head(7))))


def test_packed_trees_agree_with_scikit_learn(split):
    train, later = split
    model = RiskModel(max_iter=50).fit(train, train["fraud"])
    full = model.feature_matrix(columns_from_frame(later))
    packed, baseline = model._packed_booster_
    np.testing.assert_allclose(expit(packed.raw_sum(full) + baseline), model.booster_.predict_proba(full)[:, 1],
                               atol=1e-12)
    sub = model._filled(full[:, model.anomaly_columns_])
    forest, divisor = model._packed_isolation_
    np.testing.assert_allclose(2.0 ** (-forest.raw_sum(sub) / divisor), -model.isolation_.score_samples(sub),
                               atol=1e-12)


def test_label_columns_are_never_features(split):
    model = RiskModel(max_iter=20).fit(split[0], split[0]["fraud"])
    assert not any(name.startswith(("fraud", "critical_fraud", "x:")) for name in model.feature_names_)


@pytest.mark.parametrize("bad", [{"mode": "sometimes"}, {"smoothing": -1}, {"n_folds": 1}])
def test_bad_parameters_fail_at_fit(split, bad):
    model = RiskModel(**bad)  # __init__ only stores
    with pytest.raises(ValueError):
        model.fit(split[0], split[0]["fraud"])
