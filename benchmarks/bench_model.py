"""Model scoring speed: one declaration (server path) and a batch of 100,000 lines.

    .venv/bin/python benchmarks/bench_model.py [--history PATH --mapping NAME]

Goals (issue 5): under 2 ms per declaration, under 10 s per 100,000 lines.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.progress import track
from rich.table import Table

from riskengine.model import load_model, read_history, train
from riskengine.model.synthetic import synthetic_history


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=Path, help="training history (default: 20,000 synthetic lines)")
    parser.add_argument("--mapping", default=None)
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--declarations", type=int, default=2_000)
    args = parser.parse_args()
    console = Console()
    history = read_history(args.history, args.mapping) if args.history else synthetic_history(20_000, seed=11)
    with tempfile.TemporaryDirectory() as tmp:
        card = train(history, out_dir=Path(tmp), progress=True)
        model = load_model(Path(tmp))
    console.print(f"model {card.version} ({card.mode}), {len(card.features)} features, trained on {len(history):,} lines")

    rows = history.sample(args.declarations, replace=True, random_state=0).to_dict("records")
    declarations = [[rows[i]] if i % 3 else [rows[i], rows[i - 1], rows[i - 2]] for i in range(len(rows))]
    for d in declarations[:50]:
        model.score_declaration(d)
    timings, explained = [], []
    for d in track(declarations, description="one declaration at a time", console=console):
        start = time.perf_counter()
        result = model.score_declaration(d)
        timings.append(time.perf_counter() - start)
        explained.append(bool(result.top_features))
    ms = np.array(timings) * 1e3
    explained = np.array(explained)

    batch = history.sample(args.lines, replace=True, random_state=1).reset_index(drop=True)
    start = time.perf_counter()
    scores = model.score_frame(batch)
    batch_s = time.perf_counter() - start
    assert scores.shape == (len(batch),)

    table = Table(title="model scoring")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_column("goal", justify="right")
    table.add_row("declaration p50 (ms, as the server scores)", f"{np.percentile(ms, 50):.2f}", "< 2")
    table.add_row("declaration p99 (ms, as the server scores)", f"{np.percentile(ms, 99):.2f}", "")
    table.add_row(f"explained (score >= {model.explain_min_score:g}): share", f"{explained.mean():.1%}", "")
    if explained.any():
        table.add_row("explained declarations p50 / p99 (ms)",
                      f"{np.percentile(ms[explained], 50):.2f} / {np.percentile(ms[explained], 99):.2f}", "")
    table.add_row(f"batch of {len(batch):,} lines (s)", f"{batch_s:.2f}", "< 10")
    console.print(table)


if __name__ == "__main__":
    main()
