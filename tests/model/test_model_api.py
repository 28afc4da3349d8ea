"""The package's public surface is what __all__ says."""
from __future__ import annotations

import riskengine.model as model


def test_public_names_are_exported_and_exist():
    assert {"read_history", "train", "load_model", "evaluate", "LoadedModel", "ModelScore", "ModelCard",
            "ModelUnavailable", "RiskModel"} <= set(model.__all__)
    for name in model.__all__:
        assert hasattr(model, name), name
    assert not [n for n in vars(model) if not n.startswith("_") and n not in model.__all__
                and not isinstance(getattr(model, n), type(model)) and n != "annotations"]
