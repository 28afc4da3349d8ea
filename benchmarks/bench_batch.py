"""Batch throughput and peak memory: generated declaration lines through rules and model.

    .venv/bin/python benchmarks/bench_batch.py [--sizes 100000,1000000] [--workers 2] [--quick]

Each size runs in its own subprocess so its peak RSS is its own. The store snapshot is empty (the
generated permits have no registry), so cited permits are PERMIT_UNKNOWN and history facts are zero.
Goals (issue 7): at least 100,000 lines/s on 2 cores; peak memory flat from 100,000 to 1,000,000 lines.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import batch_settings, peak_rss_mb, trained_model  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "riskengine-bench"


def _cpu_seconds() -> float:
    """User and system CPU of this process and its finished children (the worker processes, once joined)."""
    import resource

    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _one(lines: int, workers: int, chunk: int) -> dict:
    from riskengine.batch import build_stages, empty_snapshot, run_batch

    source = CACHE / f"lines-{lines}.parquet"
    settings = batch_settings(trained_model(CACHE))
    stages = build_stages(settings, empty_snapshot("bench"))
    baseline = peak_rss_mb()
    out = CACHE / f"out-{lines}.parquet"
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    summary = run_batch(source, out, settings=settings, workers=workers, chunk_lines=chunk, stages=stages)
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu_started
    return {"lines": summary.lines, "declarations": summary.declarations, "workers": workers, "seconds": round(seconds, 2),
            "lines_per_s": round(summary.lines / seconds), "cpu_s": round(cpu, 2), "peak_rss_mb": round(peak_rss_mb(), 1),
            "rss_before_run_mb": round(baseline, 1), "lanes": summary.lanes}


def _model_floor(lines: int) -> dict:
    """CPU of scikit-learn's own predict of the model over `lines` lines, one thread: the isolation forest
    and booster on the feature matrix, nothing of ours. The batch walks the same compiled trees without
    scikit-learn's per-call work, so this is a reference for the model's share, not a bound."""
    import pandas as pd
    from threadpoolctl import threadpool_limits

    from riskengine.batch._frame import normalise_lines
    from riskengine.model import load_model
    from riskengine.model._features import columns_from_frame

    model = load_model(trained_model(CACHE))
    est = model.estimator
    frame = normalise_lines(pd.read_parquet(CACHE / f"lines-{lines}.parquet"))
    cols = columns_from_frame(model._aligned(frame), est.features_.passthrough)
    matrix = est.features_.transform(cols, est.features_.derive(cols))
    sub = est._filled(matrix[:, est.anomaly_columns_])
    best = float("inf")
    with threadpool_limits(1, user_api="openmp"):
        for _ in range(3):
            started = time.process_time()
            full = np.column_stack([matrix, -est.isolation_.score_samples(sub)])
            if est.mode_ == "supervised":
                est.booster_.predict_proba(full)
            best = min(best, time.process_time() - started)
    return {"lines": lines, "cpu_s": best, "trees": [est.n_anomaly_trees, getattr(est.booster_, "n_iter_", 0)]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="100,000 and 200,000 lines only")
    parser.add_argument("--run", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    if args.run:
        print(json.dumps(_one(args.run, args.workers, args.chunk)))
        return
    if args.generate:  # in its own process, so the measured run's peak RSS does not include it
        from riskengine.synth import generate_history_frame

        generate_history_frame(args.generate, seed=11).to_parquet(CACHE / f"lines-{args.generate}.parquet",
                                                                  row_group_size=100_000)
        return
    trained_model(CACHE)
    sizes = [100_000, 200_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    for size in sizes:
        if not (CACHE / f"lines-{size}.parquet").exists():
            subprocess.run([sys.executable, __file__, "--generate", str(size)], check=True, timeout=900)
    print(f"{'lines':>10} {'decls':>8} {'workers':>7} {'seconds':>8} {'lines/s':>9} {'CPU s':>7} {'peak RSS MB':>12}")
    for size in sizes:
        result = subprocess.run([sys.executable, __file__, "--run", str(size), "--workers", str(args.workers),
                                 "--chunk", str(args.chunk)], capture_output=True, text=True, timeout=900)
        if result.returncode:
            print(result.stderr[-3000:])
            raise SystemExit(1)
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{r['lines']:>10,} {r['declarations']:>8,} {r['workers']:>7} {r['seconds']:>8} {r['lines_per_s']:>9,} {r['cpu_s']:>7} "
              f"{r['peak_rss_mb']:>12}")
    floor = _model_floor(sizes[0])
    per_core = floor["lines"] / floor["cpu_s"]
    print(f"scikit-learn's own predict of the model ({floor['trees'][0]} isolation trees, {floor['trees'][1]} boosted trees; "
          f"one thread, best of 3): {floor['cpu_s']:.2f} s CPU per {floor['lines']:,} lines = {per_core:,.0f} lines/s "
          f"per core, {2 * per_core:,.0f} on 2 cores with nothing else done")
    print("goal: >= 100,000 lines/s on 2 cores; peak RSS flat across sizes")


if __name__ == "__main__":
    main()
