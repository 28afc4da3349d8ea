"""In-process engine: declarations per second through the full stage chain (Engine.assess on SQLite).

    .venv/bin/python benchmarks/bench_engine.py [--declarations 500] [--lines 1,10,100] [--quick]

A demo world (seed 3, 40 days) is loaded into a fresh SQLite database with a model trained on it;
then fresh declarations (copies of the world's history under new ids, lodged after it) are assessed
one by one: read, permit checks, durable rules, model, lane, and the write transaction with audit.
`--lines` sets how many lines each declaration carries (the lines are repeated with new numbers).
"""
from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np


def build(directory: Path):
    from riskengine.demo import demo_settings
    from riskengine.engine import Engine
    from riskengine.model import train
    from riskengine.permits.service import put_one
    from riskengine.setup import initialise
    from riskengine.store.audit import Actor
    from riskengine.store.history import import_history
    from riskengine.synth import generate_world, history_frame

    settings = demo_settings(directory, seed=3)
    world = generate_world(seed=3, days=40)
    initialise(settings)
    engine = Engine.from_settings(settings)
    for permit in world.permits:
        put_one(engine, permit, actor=Actor("bench", "admin"))
    with engine.database.session() as session:
        import_history(session, (e.declaration for e in world.history))
    engine.close()
    train(history_frame(world), labels="fraud", out_dir=settings.resolve(settings.model.path), progress=False)
    return settings, world


def widen(declaration, lines: int, n: int):
    items = [item.model_copy(update={"line": k + 1}) for k in range(lines) for item in [declaration.items[k % len(declaration.items)]]]
    return declaration.model_copy(update={"declaration_id": f"BENCH-{lines}-{n:06d}", "items": items,
                                          "lodged_at": declaration.lodged_at + dt.timedelta(days=40)})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--declarations", type=int, default=500)
    parser.add_argument("--lines", default="1,10,100")
    parser.add_argument("--quick", action="store_true", help="200 declarations, 1 and 10 lines")
    args = parser.parse_args()
    sizes = [1, 10] if args.quick else [int(s) for s in args.lines.split(",")]
    count = 200 if args.quick else args.declarations
    from riskengine.engine import Engine
    from riskengine.store.audit import Actor

    with tempfile.TemporaryDirectory() as tmp:
        settings, world = build(Path(tmp))
        engine = Engine.from_settings(settings)
        actor = Actor("bench", "single_window")
        print(f"{'lines/decl':>10} {'decls':>6} {'decl/s':>8} {'lines/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
        for lines in sizes:
            n = max(20, count // max(1, lines // 10 or 1))
            sources = [world.history[i % len(world.history)].declaration for i in range(n)]
            declarations = [widen(d, lines, i) for i, d in enumerate(sources)]
            for d in declarations[:10]:
                engine.assess(d.model_copy(update={"declaration_id": d.declaration_id + "-warm"}), actor=actor)
            timings = []
            started = time.perf_counter()
            for d in declarations:
                t = time.perf_counter()
                engine.assess(d, actor=actor)
                timings.append(time.perf_counter() - t)
            seconds = time.perf_counter() - started
            ms = np.array(timings) * 1e3
            print(f"{lines:>10} {n:>6} {n / seconds:>8.1f} {n * lines / seconds:>8.0f} {np.percentile(ms, 50):>8.1f} "
                  f"{np.percentile(ms, 99):>8.1f}")
        engine.close()


if __name__ == "__main__":
    main()
