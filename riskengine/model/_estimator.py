"""RiskModel: the scikit-learn estimator behind the anomaly/risk score."""
from __future__ import annotations

import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from scipy.special import expit
from threadpoolctl import threadpool_limits
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import DataConversionWarning
from sklearn.ensemble import HistGradientBoostingClassifier, IsolationForest
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from riskengine.history import EXTRA_COLUMNS, HISTORY_COLUMNS, LABEL_COLUMNS
from riskengine.model._features import FeatureSpace, columns_from_frame, columns_from_rows
from riskengine.model._forest import pack_hist_gradient_boosting, pack_isolation_forest

__all__ = ["RiskModel"]

_KNOWN = set(HISTORY_COLUMNS) | set(EXTRA_COLUMNS)
_LABELS = set(LABEL_COLUMNS)
# Below this many rows sklearn's per-call overhead dominates; walk the packed trees instead.
_SMALL_BATCH = 512


class RiskModel(ClassifierMixin, BaseEstimator):
    """Fraud/anomaly risk of declaration lines: gradient boosting on outcomes plus an isolation forest.

    ``X`` is a history frame (the canonical columns of ``riskengine.history``; absent ones count as
    missing). Other numeric columns, or a plain numeric array, are used as extra features as they
    are. Label columns are never features. ``y`` holds inspection outcomes with NaN/NA for lines that
    were not inspected. With ``mode="auto"`` the model is supervised when at least ``min_labels``
    labelled lines of each class exist, otherwise an unsupervised isolation forest.
    """

    _parameter_constraints: dict = {
        "mode": [StrOptions({"auto", "supervised", "unsupervised"})],
        "min_labels": [Interval(Integral, 1, None, closed="left")],
        "smoothing": [Interval(Real, 0, None, closed="left")],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left")],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "n_anomaly_trees": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(self, *, mode="auto", min_labels=50, smoothing=20.0, n_folds=5, max_iter=100, learning_rate=0.15,
                 max_leaf_nodes=31, min_samples_leaf=40, l2_regularization=1.0, n_anomaly_trees=100, random_state=0):
        self.mode = mode
        self.min_labels = min_labels
        self.smoothing = smoothing
        self.n_folds = n_folds
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.n_anomaly_trees = n_anomaly_trees
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.string = True
        tags.input_tags.categorical = True
        tags.classifier_tags.multi_class = False
        tags.target_tags.required = False
        return tags

    # -- input ---------------------------------------------------------------------------------
    def _frame(self, X, *, reset: bool) -> pd.DataFrame:
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, reset=reset, skip_check_array=True)
            if X.shape[0] == 0:
                raise ValueError("Found array with 0 sample(s) (shape=(0, %d)) while a minimum of 1 is required." % X.shape[1])
            return X
        array = check_array(X, ensure_all_finite="allow-nan", dtype=np.float64)
        validate_data(self, array, reset=reset, skip_check_array=True)
        return pd.DataFrame(array, columns=[f"x{i}" for i in range(array.shape[1])])

    def _passthrough(self, frame: pd.DataFrame) -> tuple[str, ...]:
        return tuple(c for c in frame.columns
                     if c not in _KNOWN and c not in _LABELS and pd.api.types.is_numeric_dtype(frame[c])
                     and not pd.api.types.is_bool_dtype(frame[c]))

    def _labels(self, y, n: int):
        if y is None:
            return None, np.array([0, 1])
        y = y.to_numpy() if isinstance(y, (pd.Series, pd.DataFrame)) else np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected.", DataConversionWarning,
                          stacklevel=3)
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError("y must be one column of labels")
        if y.shape[0] != n:
            raise ValueError(f"X has {n} rows but y has {y.shape[0]} labels")
        known = ~pd.isna(y)
        values = y[known]
        if values.dtype == object and values.size and all(isinstance(v, (int, float, np.number)) for v in values):
            values = values.astype(np.float64)
        if values.size:
            kind = type_of_target(values)
            if kind in {"continuous", "continuous-multioutput"}:
                raise ValueError(f"Unknown label type: {kind}; RiskModel needs fraud labels (0/1)")
        classes = np.unique(values)
        if classes.size > 2:
            raise ValueError("Only binary classification is supported. "
                             f"RiskModel scores fraud or not; y has {classes.size} classes")
        y01 = np.full(n, np.nan)
        if classes.size:
            y01[known] = (values == classes[-1]).astype(float) if classes.size == 2 else 0.0
        return y01, classes

    # -- fit -----------------------------------------------------------------------------------
    def fit(self, X, y=None):
        """Learn category statistics, medians and models from a training period."""
        self._validate_params()
        frame = self._frame(X, reset=True)
        y01, classes = self._labels(y, len(frame))
        enough = y01 is not None and classes.size == 2 and min(
            np.nansum(y01 == 1), np.nansum(y01 == 0)) >= self.min_labels
        if self.mode == "supervised":
            if y01 is None or classes.size < 2:
                raise ValueError("mode='supervised' needs labels of two classes; only one class is present in y"
                                 if y01 is not None else "mode='supervised' needs labels y")
            self.mode_ = "supervised"
        else:
            self.mode_ = "supervised" if self.mode == "auto" and enough else "unsupervised"
        self.classes_ = classes if self.mode_ == "supervised" else np.array([0, 1])
        seed = self.random_state if isinstance(self.random_state, (int, np.integer)) or self.random_state is None \
            else int(np.random.RandomState(self.random_state).randint(2**31 - 1))
        self.features_ = FeatureSpace(smoothing=float(self.smoothing), n_folds=int(self.n_folds),
                                      random_state=seed, passthrough=self._passthrough(frame))
        cols = columns_from_frame(frame, self.features_.passthrough)
        supervised = self.mode_ == "supervised"
        matrix = self.features_.fit_transform(cols, y01 if supervised else None)
        self._fit_anomaly(matrix, seed)
        anomaly = self._anomaly(matrix)
        self.feature_names_ = [*self.features_.feature_names, "anomaly"]
        if supervised:
            labelled = ~np.isnan(y01)
            full = np.column_stack([matrix, anomaly])
            booster = HistGradientBoostingClassifier(
                max_iter=self.max_iter, learning_rate=self.learning_rate, max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
                early_stopping=False, random_state=seed,
            )
            # Histories of a customs office are small enough that one thread is as fast, and OpenMP
            # workers spin-waiting on a busy machine once made a 4 s fit take a minute.
            with threadpool_limits(1, user_api="openmp"):
                self.booster_ = booster.fit(full[labelled], y01[labelled].astype(int))
            self._packed_booster_ = pack_hist_gradient_boosting(self.booster_)
            train_scores = self._booster_scores(full)
            self.n_iter_ = int(self.booster_.n_iter_)
        else:
            self.n_iter_ = int(self.n_anomaly_trees)
            self.booster_ = None
            train_scores = anomaly
        # reference values for explanations: what an ordinary line looks like
        full = np.column_stack([matrix, anomaly])
        with np.errstate(all="ignore"):
            self.reference_ = np.array([np.nanmedian(c) if np.isfinite(c).any() else np.nan for c in full.T])
        self.threshold_ = 0.5 if supervised else float(np.quantile(train_scores, 0.95))
        return self

    def _fit_anomaly(self, matrix: np.ndarray, seed) -> None:
        names = self.features_.feature_names
        self.anomaly_columns_ = np.array([i for i, n in enumerate(names) if not n.endswith("_rate")], dtype=np.int64)
        sub = matrix[:, self.anomaly_columns_] if self.anomaly_columns_.size else np.zeros((matrix.shape[0], 1))
        with np.errstate(all="ignore"):
            self.fill_ = np.array([np.nanmedian(c) if np.isfinite(c).any() else 0.0 for c in sub.T])
        self.isolation_ = IsolationForest(n_estimators=self.n_anomaly_trees, max_features=1.0,
                                          random_state=seed).fit(self._filled(sub))
        self._packed_isolation_ = pack_isolation_forest(self.isolation_)

    def _filled(self, sub: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(sub), sub, self.fill_)

    # -- scoring -------------------------------------------------------------------------------
    def _anomaly(self, matrix: np.ndarray) -> np.ndarray:
        sub = matrix[:, self.anomaly_columns_] if self.anomaly_columns_.size else np.zeros((matrix.shape[0], 1))
        sub = self._filled(sub)
        if sub.shape[0] > _SMALL_BATCH:
            return -self.isolation_.score_samples(sub)
        packed, divisor = self._packed_isolation_
        return 2.0 ** (-packed.raw_sum(sub) / divisor)

    def _booster_scores(self, full: np.ndarray) -> np.ndarray:
        if full.shape[0] > _SMALL_BATCH:
            return self.booster_.predict_proba(full)[:, 1]
        packed, baseline = self._packed_booster_
        return expit(packed.raw_sum(full) + baseline)

    def _scores_from_full(self, full: np.ndarray) -> np.ndarray:
        return self._booster_scores(full) if self.mode_ == "supervised" else full[:, -1]

    def feature_matrix(self, cols: dict[str, np.ndarray], derived=None) -> np.ndarray:
        """Engineered features plus the anomaly score of raw columns (see ``_features``)."""
        matrix = self.features_.transform(cols, derived)
        return np.column_stack([matrix, self._anomaly(matrix)])

    def _cols(self, X):
        check_is_fitted(self)
        if isinstance(X, list) and (not X or isinstance(X[0], dict)):
            return columns_from_rows(X, self.features_.passthrough)
        frame = self._frame(X, reset=False)
        return columns_from_frame(frame, self.features_.passthrough)

    def score_samples(self, X) -> np.ndarray:
        """Risk score in [0, 1] per row (fraud probability, or anomaly score when unsupervised)."""
        return self._scores_from_full(self.feature_matrix(self._cols(X)))

    def predict_proba(self, X) -> np.ndarray:
        score = self.score_samples(X)
        return np.column_stack([1.0 - score, score])

    def decision_function(self, X) -> np.ndarray:
        return self.score_samples(X) - self.threshold_

    def predict(self, X) -> np.ndarray:
        score = self.score_samples(X)
        return self.classes_[(score > self.threshold_).astype(int)]
