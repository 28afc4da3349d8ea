"""How cost grows with the number of rules, in batch and online.

    .venv/bin/python benchmarks/bench_growth.py [--lines 50000] [--declarations 300] [--quick]

Rules: the shipped pack plus generated rules (HS prefix, country, value and finding tests) up to
50/200/500.
- Batch: the same generated lines through the whole batch stage chain (pandas rules), one process.
- Online: the in-process engine (`Engine.assess`, SQLite, the demo world of bench_engine.py with
  its trained model) assessing the same fresh one-line declarations one by one under each rule
  pack, with the time spent in the durable_rules stage (`RulesHolder.evaluate`) shown apart, and
  the time to load the pack into durable_rules (it is sharded into rulesets of bounded size).
The other growth figures have their own scripts: lines per declaration in bench_engine.py
(--lines 1,10,100), the permit registry in bench_registry.py (10,000 to 1,000,000 permits).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import batch_settings, trained_model  # noqa: E402

CACHE = Path(tempfile.gettempdir()) / "riskengine-bench"
TEMPLATES = [
    'item.hs_code.startswith("{hs}") and declaration.country_of_export == "{cc}"',
    'item.value > {v} and declaration.transport_mode in ["air", "post"] and item.hs2 == "{hs2}"',
    'finding("PERMIT_UNKNOWN") and declaration.importer_country == "{cc}"',
    'item.description contains "{word}" and item.quantity >= {q}',
]
WORDS = ["skin", "wood", "live", "ivory", "coral", "bag", "timber", "leather", "shell", "orchid"]
COUNTRIES = ["CM", "CN", "ZA", "VN", "ID", "BR", "US", "TR", "IN", "KE"]


def write_rules(directory: Path, n: int) -> Path:
    from riskengine.demo import shipped_rules_dir

    target = directory / f"rules-{n}"
    if target.exists():
        return target
    target.mkdir(parents=True)
    shipped = sorted(shipped_rules_dir().rglob("*.y*ml"))
    for path in shipped:
        dest = target / path.relative_to(shipped_rules_dir())
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    from riskengine.rulelang import load_rules

    extra = n - len(load_rules(target).rules)
    lines = ["ruleset: generated", "rules:"]
    for i in range(max(0, extra)):
        when = TEMPLATES[i % len(TEMPLATES)].format(hs=f"{(i * 7) % 90 + 10:02d}{i % 10}", cc=COUNTRIES[i % 10],
                                                    v=1000 * (i % 50 + 1), hs2=f"{(i * 3) % 90 + 10:02d}",
                                                    word=WORDS[i % 10], q=i % 20 + 1)
        lines += [f"  - id: GEN-{i:04d}", f"    title: generated rule {i}", "    rationale: benchmark",
                  f"    when: '{when}'", f"    then: {{score: {i % 30 + 1}}}"]
    (target / "generated.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return target


def bench_rules(sizes: list[int], n_lines: int) -> None:
    from riskengine.batch import assess_lines, build_stages, empty_snapshot
    from riskengine.synth import generate_history_frame

    frame = generate_history_frame(n_lines, seed=21)
    model = trained_model(CACHE)
    print(f"rules over {n_lines:,} generated lines (one process)")
    print(f"{'rules':>6} {'batch s':>8} {'lines/s':>9}")
    for n in sizes:
        stages = build_stages(batch_settings(model, rules_dir=write_rules(CACHE, n)), empty_snapshot("bench"))
        assess_lines(stages, frame.iloc[:2000])
        started = time.perf_counter()
        assess_lines(stages, frame)
        seconds = time.perf_counter() - started
        print(f"{len(stages.ruleset.rules):>6} {seconds:>8.2f} {n_lines / seconds:>9,.0f}")


def bench_online_rules(sizes: list[int], count: int) -> None:
    import numpy as np

    from bench_engine import build, widen
    from riskengine.config import load_settings
    from riskengine.engine import Engine
    from riskengine.store.audit import Actor

    actor = Actor("bench", "single_window")
    with tempfile.TemporaryDirectory() as tmp:
        settings, world = build(Path(tmp))
        sources = [world.history[i % len(world.history)].declaration for i in range(count + 10)]
        print(f"online, {count} one-line declarations per rule pack, one by one (in-process engine, SQLite, with model)")
        print(f"{'rules':>6} {'shards':>6} {'load s':>7} {'decl/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'rules ms p50':>12} {'rules ms p99':>12}")
        for n in sizes:
            config = {k: v for k, v in settings.model_dump(mode="json").items() if isinstance(v, dict)}
            config["rules"]["dir"] = str(write_rules(CACHE, n))
            started = time.perf_counter()
            engine = Engine.from_settings(load_settings(None, **config))
            load = time.perf_counter() - started
            holder, spent = engine.rules, []
            evaluate = holder.evaluate

            def timed(facts, *, on=None):
                t = time.perf_counter()
                try:
                    return evaluate(facts, on=on)
                finally:
                    spent.append(time.perf_counter() - t)

            holder.evaluate = timed
            declarations = [widen(d, 1, i).model_copy(update={"declaration_id": f"GROW-{n}-{i:06d}"}) for i, d in enumerate(sources)]
            for d in declarations[:10]:
                engine.assess(d, actor=actor)
            spent.clear()
            timings = []
            for d in declarations[10:]:
                t = time.perf_counter()
                engine.assess(d, actor=actor)
                timings.append(time.perf_counter() - t)
            ms, rules_ms = np.array(timings) * 1e3, np.array(spent) * 1e3
            shards = len(holder._evaluator._shards or ()) or "-"
            print(f"{len(holder.ruleset.rules):>6} {shards:>6} {load:>7.2f} {len(timings) / ms.sum() * 1e3:>7.1f} "
                  f"{np.percentile(ms, 50):>7.1f} {np.percentile(ms, 99):>7.1f} {np.percentile(rules_ms, 50):>12.2f} "
                  f"{np.percentile(rules_ms, 99):>12.2f}")
            engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--declarations", type=int, default=300, help="online: declarations per rule pack")
    parser.add_argument("--quick", action="store_true", help="20,000 lines, 100 declarations")
    parser.add_argument("--only", choices=("batch", "online"), help="one of the two parts")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    if args.only != "online":
        bench_rules([50, 200, 500], 20_000 if args.quick else args.lines)
    if args.only != "batch":
        bench_online_rules([50, 200, 500], 100 if args.quick else args.declarations)


if __name__ == "__main__":
    main()
