"""Batch: the online stages over files of many declarations, for backtests and bulk pre-arrival scoring.

`run_batch` streams Parquet, CSV or JSON-lines declarations through screening, permit checks (against
one snapshot of the registry), rules (the pandas backend), the model and the lane decision, and writes
one decision row per declaration to Parquet. It reserves no permit quantity and records nothing:
history aggregates and permit quantities are those of the store snapshot read when the run starts.
"""
from __future__ import annotations

from riskengine.batch._history import history_facts
from riskengine.batch._io import DECISION_SCHEMA, DecisionWriter, cited_permits, read_chunks
from riskengine.batch._run import BatchSummary, build_stages, run_batch
from riskengine.batch._snapshot import StoreSnapshot, empty_snapshot, read_snapshot
from riskengine.batch._stages import DECISION_COLUMNS, Stages, assess_lines

__all__ = [
    "DECISION_COLUMNS",
    "DECISION_SCHEMA",
    "BatchSummary",
    "DecisionWriter",
    "Stages",
    "StoreSnapshot",
    "assess_lines",
    "build_stages",
    "cited_permits",
    "empty_snapshot",
    "history_facts",
    "read_chunks",
    "read_snapshot",
    "run_batch",
]
