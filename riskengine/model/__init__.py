"""The model stage: a risk score per declaration line, learned from history and explained in words.

Trainers call ``read_history`` and ``train``; the server calls ``load_model`` once and then
``LoadedModel.score_declaration`` per declaration; ``evaluate`` measures a model at fixed
inspection rates on a later period.
"""
from __future__ import annotations

from riskengine.model._artifact import LoadedModel, ModelCard, ModelScore, load_model, train
from riskengine.model._errors import MappingError, ModelError, ModelUnavailable
from riskengine.model._estimator import RiskModel
from riskengine.model._evaluate import INSPECTION_RATES, evaluate, inspection_curve, rate_metrics
from riskengine.model._mapping import load_mapping, read_history

__all__ = [
    "INSPECTION_RATES",
    "LoadedModel",
    "MappingError",
    "ModelCard",
    "ModelError",
    "ModelScore",
    "ModelUnavailable",
    "RiskModel",
    "evaluate",
    "inspection_curve",
    "load_mapping",
    "load_model",
    "rate_metrics",
    "read_history",
    "train",
]
