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


def test_report_tables_render(supervised):
    from rich.console import Console

    from riskengine.model.report import card_table, metrics_table

    console = Console(record=True, width=120)
    console.print(card_table(supervised.card))
    console.print(metrics_table({"n": 10, "positives": 2, "auc": 0.8, "precision@1%": 1.0, "recall@1%": 0.5,
                                 "precision@2%": 1.0, "recall@2%": 0.5, "precision@5%": 0.5, "recall@5%": 0.5,
                                 "precision@10%": 0.5, "recall@10%": 1.0}))
    text = console.export_text()
    assert supervised.version in text and "precision" in text and "5%" in text
