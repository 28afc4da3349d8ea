"""Training, saving and loading the model with its card (version, data hash, features, metrics)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import sklearn
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from riskengine.model._errors import MappingError, ModelUnavailable
from riskengine.model._estimator import RiskModel
from riskengine.model._evaluate import rate_metrics
from riskengine.model._explain import explain_line, feature_groups
from riskengine.model._features import columns_from_rows
from riskengine.model._mapping import CANONICAL_COLUMNS

__all__ = ["FORMAT_VERSION", "LoadedModel", "ModelCard", "ModelScore", "load_model", "train"]

FORMAT_VERSION = 1
MODEL_FILE = "model.joblib"
CARD_FILE = "model_card.json"
HOLDOUT_SHARE = 0.2
# A line scoring under this is not explained: at 0.05 the model adds at most 3 of the 100 points
# (weight 60), and naming "reasons" for a score that low would only mislead an officer.
EXPLAIN_MIN_SCORE = 0.05


@dataclass
class ModelCard:
    """What a saved model is: its version id, how and on what it was trained, and how well it did."""

    version: str
    mode: str  # "supervised" (gradient boosting + anomaly score) or "unsupervised" (isolation forest)
    created_at: str
    training_data_hash: str
    n_rows: int
    n_labelled: int
    positives: int
    label_column: str | None
    features: list[str]
    metrics: dict[str, float] = field(default_factory=dict)  # on the latest HOLDOUT_SHARE of training, by time
    params: dict[str, Any] = field(default_factory=dict)
    sklearn_version: str = sklearn.__version__
    format_version: int = FORMAT_VERSION
    # declarations whose score is below this get no top features (cards written before it: 0, all explained)
    explain_min_score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelCard:
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass(frozen=True)
class ModelScore:
    """A declaration's model score: the highest line score, each line's score, and why."""

    score: float
    line_scores: list[float]
    top_features: list[str]


class LoadedModel:
    """A trained model ready to score frames (batch) and declarations (online)."""

    def __init__(self, estimator: RiskModel, card: ModelCard) -> None:
        self.estimator = estimator
        self.card = card
        self._all_groups = feature_groups(estimator.feature_names_)
        self._groups = _important_groups(estimator, self._all_groups)

    @property
    def version(self) -> str:
        return self.card.version

    @property
    def mode(self) -> str:
        return self.card.mode

    @property
    def explain_min_score(self) -> float:
        """Scores under this get no explanation (part of the model version, so replay stays exact)."""
        return self.card.explain_min_score

    def score_frame(self, frame: pd.DataFrame) -> np.ndarray:
        """Score in [0, 1] for each row of a history frame (canonical columns)."""
        return self.estimator.score_samples(self._aligned(frame))

    def _aligned(self, frame: pd.DataFrame) -> pd.DataFrame:
        # Histories come from many sources; columns the model saw in training but this frame lacks
        # are simply missing values, and extra columns are ignored.
        names = getattr(self.estimator, "feature_names_in_", None)
        if names is None or list(frame.columns) == list(names):
            return frame
        return frame.reindex(columns=list(names))

    def score_declaration(self, rows: list[dict[str, Any]], *, top: int = 3) -> ModelScore:
        """Score the lines of one declaration (``riskengine.history.declaration_rows``) and explain the worst."""
        if not rows:
            return ModelScore(0.0, [], [])
        est = self.estimator
        cols = columns_from_rows(rows, est.features_.passthrough)
        derived = est.features_.derive(cols)
        full = est.feature_matrix(cols, derived)
        scores = est._scores_from_full(full)
        worst = int(np.argmax(scores))
        if scores[worst] < self.explain_min_score:
            return ModelScore(float(scores[worst]), [float(s) for s in scores], [])
        words = explain_line(est, derived, worst, full[worst], float(scores[worst]), groups=self._groups, top=top)
        return ModelScore(float(scores[worst]), [float(s) for s in scores], words)

    def explain_frame(self, frame: pd.DataFrame, *, top: int = 3) -> list[list[str]]:
        """Top features in words for every row of a (small) frame, probing every feature group."""
        est = self.estimator
        cols = est._cols(self._aligned(frame))
        derived = est.features_.derive(cols)
        full = est.feature_matrix(cols, derived)
        scores = est._scores_from_full(full)
        return [explain_line(est, derived, i, full[i], float(scores[i]), groups=self._all_groups, top=top)
                for i in range(full.shape[0])]


EXPLAINED_GROUPS = 14


def _important_groups(est: RiskModel, groups: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The feature groups worth probing for explanations: those the booster gains most from.

    Probing every group costs more than the score itself; the rest rarely reach the top three.
    """
    if est.mode_ != "supervised" or len(groups) <= EXPLAINED_GROUPS:
        return groups
    gain = np.zeros(len(est.feature_names_))
    for (predictor,) in est.booster_._predictors:
        nodes = predictor.nodes[predictor.nodes["is_leaf"] == 0]
        np.add.at(gain, nodes["feature_idx"], nodes["gain"])
    ranked = sorted(groups, key=lambda g: -gain[groups[g]].sum())
    return {g: groups[g] for g in ranked[:EXPLAINED_GROUPS]}


def _data_hash(history: pd.DataFrame) -> str:
    cols = [c for c in CANONICAL_COLUMNS if c in history.columns]
    digest = hashlib.sha256(pd.util.hash_pandas_object(history[cols], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _labels(history: pd.DataFrame, labels: str | None) -> np.ndarray | None:
    if labels is None:
        return None
    if labels not in history.columns:
        raise MappingError(f"history has no label column {labels!r} (columns: {', '.join(history.columns[:40])})",
                           code="COLUMN_MISSING")
    y = pd.to_numeric(history[labels], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return np.where(np.isnan(y), np.nan, (y > 0).astype(float))


def train(history: pd.DataFrame, *, labels: str | None = "fraud", out_dir: Path, progress: bool = True,
          estimator: RiskModel | None = None, explain_min_score: float = EXPLAIN_MIN_SCORE) -> ModelCard:
    """Train on a history frame, measure on its latest fifth, refit on all of it and save to ``out_dir``.

    Supervised when the label column has enough outcomes of both classes, else unsupervised.
    Declarations the saved model scores under ``explain_min_score`` get no top features.
    """
    if not 0.0 <= explain_min_score <= 1.0:
        raise ValueError(f"explain_min_score must be within 0..1, not {explain_min_score}")
    out_dir = Path(out_dir)
    y = _labels(history, labels)
    proto = estimator if estimator is not None else RiskModel()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                  disable=not progress, transient=True) as bar:
        task = bar.add_task("hashing training data", total=4)
        data_hash = _data_hash(history)
        bar.update(task, advance=1, description="fitting on the earlier 80% (time order)")
        order = np.argsort(pd.to_datetime(history["lodged_at"], utc=True).to_numpy(), kind="stable") \
            if "lodged_at" in history.columns else np.arange(len(history))
        cut = int(len(order) * (1 - HOLDOUT_SHARE))
        early, late = order[:cut], order[cut:]
        metrics: dict[str, float] = {}
        if len(late) and len(early):
            first = sklearn.clone(proto).fit(history.iloc[early], None if y is None else y[early])
            bar.update(task, advance=1, description="measuring on the latest 20%")
            y_late = None if y is None else y[late]
            if y_late is not None and (~np.isnan(y_late)).any():
                known = ~np.isnan(y_late)
                scores = first.score_samples(history.iloc[late])
                value = pd.to_numeric(history["value"], errors="coerce").to_numpy(np.float64, na_value=np.nan) \
                    if "value" in history.columns else None
                metrics = rate_metrics(y_late[known], scores[known], None if value is None else value[late][known])
        bar.update(task, completed=2, description="fitting on all training data")
        model = sklearn.clone(proto).fit(history, y)
        bar.update(task, completed=3, description="saving")
        supervised = model.mode_ == "supervised"
        created = dt.datetime.now(dt.timezone.utc)
        params = {k: v for k, v in model.get_params().items()}
        recipe = json.dumps({**params, "explain_min_score": float(explain_min_score)}, sort_keys=True, default=str)
        tag = hashlib.sha256((data_hash + str(labels) + model.mode_ + recipe).encode()).hexdigest()[:4]
        n_labelled = 0 if y is None else int((~np.isnan(y)).sum())
        card = ModelCard(
            version=f"{'gbm' if supervised else 'iforest'}-{created:%Y-%m-%d}-{tag}",
            mode=model.mode_,
            created_at=created.isoformat(timespec="seconds"),
            training_data_hash=data_hash,
            n_rows=len(history),
            n_labelled=n_labelled,
            positives=0 if y is None else int(np.nansum(y)),
            label_column=labels,
            features=list(model.feature_names_),
            metrics={k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in metrics.items()},
            params=params,
            explain_min_score=float(explain_min_score),
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        joblib.dump({"format_version": FORMAT_VERSION, "card": card.to_dict(), "estimator": model},
                    out_dir / MODEL_FILE, compress=3)
        (out_dir / CARD_FILE).write_text(json.dumps(card.to_dict(), indent=2, default=str) + "\n", encoding="utf-8")
        bar.update(task, completed=4)
    return card


def load_model(path: Path) -> LoadedModel:
    """Load a saved model directory (or its model.joblib); ModelUnavailable says why when it cannot."""
    path = Path(path)
    file = path / MODEL_FILE if path.is_dir() or not path.suffix else path
    if not file.is_file():
        raise ModelUnavailable(f"no model file at {file}", code="MODEL_MISSING")
    try:
        bundle = joblib.load(file)
    except Exception as exc:  # unpickling failures come in every type
        raise ModelUnavailable(f"model file {file} cannot be read ({type(exc).__name__}: {exc})",
                               code="MODEL_CORRUPT") from exc
    if not isinstance(bundle, dict) or not isinstance(bundle.get("estimator"), RiskModel):
        raise ModelUnavailable(f"model file {file} does not hold a riskengine model", code="MODEL_INCOMPATIBLE")
    if bundle.get("format_version") != FORMAT_VERSION:
        raise ModelUnavailable(f"model file {file} has format {bundle.get('format_version')}, "
                               f"this riskengine reads format {FORMAT_VERSION}; retrain it", code="MODEL_INCOMPATIBLE")
    card = ModelCard.from_dict(bundle["card"])
    if card.sklearn_version.split(".")[:2] != sklearn.__version__.split(".")[:2]:
        raise ModelUnavailable(f"model {card.version} was trained with scikit-learn {card.sklearn_version}, "
                               f"this is {sklearn.__version__}; retrain it", code="MODEL_INCOMPATIBLE")
    return LoadedModel(bundle["estimator"], card)
