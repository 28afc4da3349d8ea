"""How batch cost grows with the number of rules and how the permit snapshot grows with the registry.

    .venv/bin/python benchmarks/bench_growth.py [--lines 50000] [--quick]

Rules: the shipped pack plus generated rules (HS prefix, country, value and finding tests) up to
50/200/500, over the same generated lines (rules stage alone, `evaluate_frame`, and the whole batch).
Registry: a snapshot of 10,000 to 1,000,000 permits: build time, memory, and the cost of looking up
and checking one cited permit (`check_declaration` for a one-line declaration). Lines per declaration
are measured online by bench_engine.py (--lines 1,10,100).
"""
from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
import tracemalloc
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


def bench_registry(sizes: list[int]) -> None:
    from riskengine.permits.checks import LineContext, check_declaration
    from riskengine.reference import Reference
    from riskengine.schemas import Declaration
    from riskengine.store.permits import RegisteredLine, RegisteredPermit

    reference = Reference.load()
    taxon = reference.lookup("Crocodylus niloticus")
    print("permit snapshot size")
    print(f"{'permits':>10} {'build s':>8} {'MB':>7} {'lookup+check us':>16}")
    for n in sizes:
        tracemalloc.start()
        started = time.perf_counter()
        registry = {}
        for i in range(n):
            number = f"ZM/EX/2025/{i:07d}"
            line = RegisteredLine(i, 1, "Crocodylus niloticus", "II", "SKI", "T", "C", 1000.0, None, "ZM", None, 0.0, 0.0)
            registry[("ZM", number)] = RegisteredPermit(number, "ZM", "export", dt.date(2025, 10, 8), dt.date(2026, 4, 7),
                                                       "valid", "Crocodile Ranch Ltd", "ZM", "Lederwaren Keller AG", "CH",
                                                       (line,))
        build = time.perf_counter() - started
        memory = tracemalloc.get_traced_memory()[0] / 2**20
        tracemalloc.stop()
        declarations = []
        for k in range(2000):
            number = f"ZM/EX/2025/{(k * 7919) % n:07d}"
            declarations.append(Declaration.model_validate({
                "declaration_id": f"G-{k}", "version": 1, "direction": "import", "lodged_at": "2025-11-01T05:00:00Z",
                "customs_office": "CHZRH", "importer": {"name": "Lederwaren Keller AG", "country": "CH"},
                "exporter": {"name": "Crocodile Ranch Ltd", "country": "ZM"}, "country_of_export": "ZM",
                "country_of_destination": "CH",
                "items": [{"line": 1, "hs_code": "41039000", "taxon": "Crocodylus niloticus", "quantity": 1,
                           "cites": {"term": "SKI", "purpose": "T", "source": "C"},
                           "permits": [{"number": number, "issuing_country": "ZM"}]}]}))
        started = time.perf_counter()
        for d in declarations:
            ctx = [LineContext(item=d.items[0], taxon=taxon, appendix="II", hs_sensitive=True)]
            check_declaration(d, ctx, registry, reference=reference)
        per = (time.perf_counter() - started) / len(declarations) * 1e6
        print(f"{n:>10,} {build:>8.2f} {memory:>7.0f} {per:>16.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=50_000)
    parser.add_argument("--quick", action="store_true", help="20,000 lines; registry up to 100,000")
    args = parser.parse_args()
    CACHE.mkdir(exist_ok=True)
    bench_rules([50, 200, 500], 20_000 if args.quick else args.lines)
    bench_registry([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])


if __name__ == "__main__":
    main()
