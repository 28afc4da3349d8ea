"""Small trained models shared by the model tests (trained once per session)."""
from __future__ import annotations

from pathlib import Path

import pytest

from riskengine.model import load_model, train
from riskengine.model.synthetic import synthetic_history


@pytest.fixture(scope="session")
def history():
    return synthetic_history(3000, seed=1)


@pytest.fixture(scope="session")
def split(history):
    cut = history["lodged_at"].quantile(0.75)
    return history[history["lodged_at"] < cut].reset_index(drop=True), history[history["lodged_at"] >= cut].reset_index(drop=True)


@pytest.fixture(scope="session")
def supervised_dir(split, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gbm")
    train(split[0], out_dir=out, progress=False)
    return out


@pytest.fixture(scope="session")
def supervised(supervised_dir):
    return load_model(supervised_dir)
