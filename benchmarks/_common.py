"""Shared helpers of the batch and online benchmarks: a trained model, generated input, peak memory."""
from __future__ import annotations

import resource
from pathlib import Path


def peak_rss_mb() -> float:
    """Peak resident memory of this process and its finished children, in MB (Linux ru_maxrss is KB)."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def trained_model(directory: Path, *, lines: int = 50_000, seed: int = 5) -> Path:
    """A model trained on generated history, saved once under `directory` and reused."""
    import hashlib
    import json

    from riskengine.model import RiskModel, train
    from riskengine.model._artifact import EXPLAIN_MIN_SCORE
    from riskengine.synth import generate_history_frame

    # a model trained with other defaults (an older checkout) is not reused
    recipe = json.dumps({**RiskModel().get_params(), "explain_min_score": EXPLAIN_MIN_SCORE}, sort_keys=True)
    path = directory / f"model-{lines}-{seed}-{hashlib.sha256(recipe.encode()).hexdigest()[:8]}"
    if not (path / "model.joblib").exists():
        train(generate_history_frame(lines, seed=seed), labels="fraud", out_dir=path, progress=False)
    return path


def batch_settings(model_path: Path, *, rules_dir: Path | None = None):
    from riskengine.config import load_settings
    from riskengine.demo import shipped_rules_dir

    return load_settings(None, model={"path": str(model_path)}, rules={"dir": str(rules_dir or shipped_rules_dir())},
                         decision={"random_salt": "bench"})
