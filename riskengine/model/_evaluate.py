"""Quality at fixed inspection rates: customs can inspect only a few per cent of lines."""
from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from riskengine.model._errors import MappingError

if TYPE_CHECKING:
    from riskengine.model._artifact import LoadedModel

__all__ = ["INSPECTION_RATES", "evaluate", "inspection_curve", "rate_metrics"]

INSPECTION_RATES = (1, 2, 5, 10)


def _top(scores: np.ndarray, rate: float) -> np.ndarray:
    k = max(1, math.ceil(rate * scores.size))
    return np.argsort(-scores, kind="stable")[:k]


def rate_metrics(y: np.ndarray, scores: np.ndarray, value: np.ndarray | None = None,
                 rates=INSPECTION_RATES) -> dict[str, float]:
    """Precision, recall and value share when inspecting the top ``rate`` % of lines by score.

    value share: the part of the value of all fraudulent lines that the inspected ones carry.
    """
    y = np.asarray(y, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    positives = float(y.sum())
    out: dict[str, float] = {"n": int(y.size), "positives": int(positives)}
    has_value = value is not None and np.isfinite(value).any()
    fraud_value = float(np.nansum(np.where(y == 1, value, 0))) if has_value else 0.0
    for rate in rates:
        top = _top(scores, rate / 100)
        out[f"precision@{rate}%"] = float(y[top].mean()) if y.size else math.nan
        out[f"recall@{rate}%"] = float(y[top].sum() / positives) if positives else math.nan
        if has_value:
            caught = float(np.nansum(np.where(y[top] == 1, value[top], 0)))
            out[f"value_share@{rate}%"] = caught / fraud_value if fraud_value else math.nan
    out["auc"] = float(roc_auc_score(y, scores)) if 0 < positives < y.size else math.nan
    return out


def inspection_curve(y: np.ndarray, scores: np.ndarray, *, max_rate: float = 0.3, points: int = 60) -> pd.DataFrame:
    """Precision and recall against the inspection rate, for plots."""
    y = np.asarray(y, dtype=np.float64)
    ranked = y[np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")]
    hits = np.cumsum(ranked)
    rates = np.linspace(max_rate / points, max_rate, points)
    k = np.maximum(1, np.ceil(rates * y.size).astype(int))
    return pd.DataFrame({"inspection_rate": rates, "precision": hits[k - 1] / k,
                         "recall": hits[k - 1] / max(y.sum(), 1)})


def evaluate(model: LoadedModel, history: pd.DataFrame, *, labels: str = "fraud") -> dict[str, float]:
    """Score a labelled history (a later period than training) and measure it at 1, 2, 5 and 10 %."""
    if labels not in history.columns:
        raise MappingError(f"history has no label column {labels!r}", code="COLUMN_MISSING")
    y = pd.to_numeric(history[labels], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    known = ~np.isnan(y)
    if not known.any():
        raise MappingError(f"label column {labels!r} has no values to evaluate against", code="NO_LABELS")
    scores = model.score_frame(history)
    value = (pd.to_numeric(history["value"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
             if "value" in history.columns else None)
    return rate_metrics((y[known] > 0).astype(float), scores[known], value[known] if value is not None else None)
