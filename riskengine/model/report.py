"""Rich tables of a model card and of evaluation metrics, for the CLI."""
from __future__ import annotations

import math

from rich.table import Table

from riskengine.model._artifact import ModelCard
from riskengine.model._evaluate import INSPECTION_RATES

__all__ = ["card_table", "metrics_table"]


def _fmt(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def metrics_table(metrics: dict, *, title: str = "quality at fixed inspection rates") -> Table:
    """Precision, recall and value share per inspection rate, with AUC and counts in the caption."""
    table = Table(title=title, caption=f"n={metrics.get('n')}  positives={metrics.get('positives')}  "
                                       f"ROC AUC={_fmt(metrics.get('auc'))}")
    table.add_column("inspection rate", justify="right")
    for name in ("precision", "recall", "value_share"):
        if any(f"{name}@{r}%" in metrics for r in INSPECTION_RATES):
            table.add_column(name.replace("_", " "), justify="right")
    for rate in INSPECTION_RATES:
        cells = [_fmt(metrics[f"{n}@{rate}%"]) for n in ("precision", "recall", "value_share") if f"{n}@{rate}%" in metrics]
        table.add_row(f"{rate}%", *cells)
    return table


def card_table(card: ModelCard) -> Table:
    """The model card as a two-column table."""
    table = Table(title=f"model {card.version}", show_header=False)
    table.add_column("field")
    table.add_column("value")
    for label, value in [("mode", card.mode), ("created at", card.created_at), ("training rows", card.n_rows),
                         ("labelled rows", card.n_labelled), ("positives", card.positives),
                         ("label column", card.label_column), ("training data hash", card.training_data_hash[:16]),
                         ("features", len(card.features)), ("scikit-learn", card.sklearn_version)]:
        table.add_row(label, _fmt(value))
    for rate in INSPECTION_RATES:
        if f"precision@{rate}%" in card.metrics:
            table.add_row(f"holdout precision@{rate}%", _fmt(card.metrics[f"precision@{rate}%"]))
    return table
