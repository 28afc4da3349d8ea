"""A deterministic synthetic CITES world for the demo, the tests and the benchmarks.

`generate_world` gives Management Authority permits, a year of declarations with planted violations
and noisy inspection outcomes, and a dozen fresh sample declarations; `history_frame` turns the
history into the canonical table of `riskengine.history`; `write_world` puts it all on disk; and
`generate_history_frame` makes millions of history rows directly, without a declaration object each.
"""
from riskengine.synth._frame import generate_history_frame, history_frame, write_world
from riskengine.synth._history import VIOLATION_RATES, VIOLATIONS
from riskengine.synth._world import FINDING_CODES, HistoryEntry, World, generate_world

__all__ = [
    "FINDING_CODES",
    "VIOLATIONS",
    "VIOLATION_RATES",
    "HistoryEntry",
    "World",
    "generate_history_frame",
    "generate_world",
    "history_frame",
    "write_world",
]
