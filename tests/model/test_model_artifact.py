"""Saving, loading and the model card."""
from __future__ import annotations

import json
import re

import joblib
import numpy as np
import pytest

from riskengine.model import ModelUnavailable, load_model, train


def test_round_trip_keeps_version_and_scores(supervised_dir, supervised, split):
    card = json.loads((supervised_dir / "model_card.json").read_text())
    assert re.fullmatch(r"gbm-\d{4}-\d{2}-\d{2}-[0-9a-f]{4}", card["version"])
    assert supervised.version == card["version"] and supervised.mode == "supervised"
    assert card["training_data_hash"] and card["features"] and card["created_at"]
    assert {"precision@5%", "auc"} <= set(card["metrics"])
    again = load_model(supervised_dir / "model.joblib")
    np.testing.assert_array_equal(again.score_frame(split[1]), supervised.score_frame(split[1]))


def test_unlabelled_history_trains_an_isolation_forest(split, tmp_path):
    card = train(split[0], labels=None, out_dir=tmp_path, progress=False)
    assert card.mode == "unsupervised" and card.version.startswith("iforest-")
    assert load_model(tmp_path).mode == "unsupervised"


def test_same_data_gives_the_same_version_hash(split, tmp_path):
    a = train(split[0], out_dir=tmp_path / "a", progress=False)
    b = train(split[0], out_dir=tmp_path / "b", progress=False)
    assert a.training_data_hash == b.training_data_hash and a.version == b.version


def test_missing_model_is_unavailable_with_a_reason(tmp_path):
    with pytest.raises(ModelUnavailable) as err:
        load_model(tmp_path / "nothing")
    assert "no model file" in err.value.reason and err.value.code == "MODEL_MISSING"


def test_corrupt_model_file_is_unavailable(tmp_path):
    (tmp_path / "model.joblib").write_bytes(b"not a pickle at all")
    with pytest.raises(ModelUnavailable) as err:
        load_model(tmp_path)
    assert err.value.code == "MODEL_CORRUPT"


def test_model_of_another_format_is_unavailable(supervised_dir, tmp_path):
    bundle = joblib.load(supervised_dir / "model.joblib")
    bundle["format_version"] = 99
    joblib.dump(bundle, tmp_path / "model.joblib")
    with pytest.raises(ModelUnavailable, match="format 99") as err:
        load_model(tmp_path)
    assert err.value.code == "MODEL_INCOMPATIBLE"


def test_a_typo_in_the_label_column_is_an_error(split, tmp_path):
    from riskengine.model import MappingError

    with pytest.raises(MappingError, match="'frod'"):
        train(split[0], labels="frod", out_dir=tmp_path, progress=False)
