"""How batch cost grows with the number of rules.

    .venv/bin/python benchmarks/bench_growth.py [--lines 50000] [--quick]

Rules: the shipped pack plus generated rules (HS prefix, country, value and finding tests) up to
50/200/500, over the same generated lines (the whole batch stage chain, one process). The other
growth figures have their own scripts: lines per declaration in bench_engine.py (--lines 1,10,100),
the permit registry in bench_registry.py (10,000 to 1,000,000 permits in the database).
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="20,000 lines")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    bench_rules([50, 200, 500], 20_000 if args.quick else args.lines)


if __name__ == "__main__":
    main()
