"""Throughput of the rule backends: declarations/second online, lines/second in batch.

Run: .venv/bin/python benchmarks/bench_rules.py [--quick]
Goals (issue 4): >= 5,000 declarations/s online (3 lines each) and >= 200,000 lines/s in batch
for the starter pack; also shown for 50, 200 and 500 generated rules.
"""
from __future__ import annotations

import random
import sys
import time
from datetime import date
from pathlib import Path

import pandas as pd

from riskengine.rulelang import OnlineEvaluator, Rule, RuleSet, compile_expression, evaluate_frame, load_rules

ROOT = Path(__file__).resolve().parents[1]
ON = date(2026, 6, 1)
HS = ["440349", "960110", "050790", "030192", "410320", "010632", "030812", "121190", "020230", "847130"]
COUNTRIES = ["NG", "CM", "FR", "CH", "AE", "SG", "BR", "MG", "VN", "DE"]
FINDINGS = ["", "", "", "", "PERMIT_EXPIRED", "PERMIT_UNKNOWN", "PERMIT_REQUIRED"]
WORDS = ["carved figurines", "resin gift", "sawn logs", "live eels", "python skins", "parrots", "machines"]


BENIGN = {"item.hs_code": "847130", "item.hs4": "8471", "item.hs2": "84", "item.description": "laptops",
          "item.cites_relevant": False, "item.hs_sensitive": False, "findings": [], "item.genus": None,
          "history.route_seen_before": True, "history.exporter_seen_before": True, "model_score": 0.1,
          "history.permit_citations": 0, "history.exporter_declarations_7d": 1, "item.unit_value_ratio": 1.0}


def make_lines(n: int, seed: int = 1, *, wildlife_share: float = 1.0) -> list[dict]:
    """Random lines; a `wildlife_share` below 1 makes the rest ordinary goods, as in real traffic."""
    rnd = random.Random(seed)
    lines = []
    for i in range(n):
        hs = rnd.choice(HS)
        lines.append({
            "declaration.declaration_id": f"D{i // 3}", "declaration.direction": rnd.choice(["import", "export"]),
            "declaration.country_of_export": rnd.choice(COUNTRIES),
            "declaration.transit_countries": rnd.sample(COUNTRIES, rnd.randint(0, 2)),
            "declaration.lodged_hour": rnd.randint(0, 23), "declaration.transport_mode": rnd.choice(["air", "sea"]),
            "item.line": i % 3 + 1, "item.hs_code": hs, "item.hs4": hs[:4], "item.hs2": hs[:2],
            "item.description": rnd.choice(WORDS), "item.genus": rnd.choice(["Dalbergia", "Python", None]),
            "item.cites_relevant": rnd.random() < 0.5, "item.hs_sensitive": rnd.random() < 0.3,
            "item.value": rnd.uniform(10, 1e5), "item.net_mass_kg": rnd.uniform(1, 1e4),
            "item.unit_value_ratio": rnd.uniform(0, 3), "model_score": rnd.random(),
            "history.permit_citations": rnd.randint(0, 3), "history.exporter_declarations_7d": rnd.randint(0, 9),
            "history.route_seen_before": rnd.random() < 0.8, "history.exporter_seen_before": rnd.random() < 0.8,
            "history.importer_days_since_first_seen": rnd.choice([None, 5, 100, 900]),
            "findings": [f for f in [rnd.choice(FINDINGS)] if f],
        })
        if rnd.random() >= wildlife_share:
            lines[-1].update(BENIGN)
    return lines


def generated_rules(n: int, seed: int = 2) -> RuleSet:
    """n rules shaped like the starter pack's: native tests plus some guards (regex, arithmetic)."""
    rnd = random.Random(seed)
    templates = [
        lambda: f'item.hs4 == "{rnd.choice(HS)[:4]}" and declaration.country_of_export == "{rnd.choice(COUNTRIES)}"',
        lambda: f'finding("{rnd.choice(FINDINGS[4:])}") and item.value > {rnd.randint(10, 90000)}',
        lambda: f'item.hs_code.startswith("{rnd.choice(HS)[:4]}") and item.description imatches "{rnd.choice(WORDS)[:5]}"',
        lambda: f"item.cites_relevant and item.value / item.net_mass_kg < {rnd.randint(1, 50)}",
        lambda: f'declaration.transit_countries contains "{rnd.choice(COUNTRIES)}" and model_score > 0.{rnd.randint(5, 9)}',
        lambda: f"history.exporter_declarations_7d >= {rnd.randint(3, 9)} and item.hs_sensitive",
    ]
    rules = []
    for i in range(n):
        when = rnd.choice(templates)()
        rules.append(Rule(id=f"G-{i}", title=when, rationale="generated", when=when,
                          condition=compile_expression(when), version="1", file=f"g{i // 40}.yaml", line=i,
                          score=10.0))
    return RuleSet(version="generated", rules=rules, lists={})


def bench_online(ruleset: RuleSet, lines: list[dict], seconds: float) -> tuple[float, float]:
    evaluator = OnlineEvaluator(ruleset)
    declarations = [lines[i:i + 3] for i in range(0, len(lines), 3)]
    evaluator.evaluate(declarations[0], on=ON)
    done, hits, start = 0, 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for decl in declarations[done % len(declarations): done % len(declarations) + 200]:
            hits += len(evaluator.evaluate(decl, on=ON))
            done += 1
    elapsed = time.perf_counter() - start
    evaluator.close()
    return done / elapsed, hits / max(done, 1)


def bench_batch(ruleset: RuleSet, frame: pd.DataFrame) -> tuple[float, int]:
    evaluate_frame(ruleset, frame.head(1000), on=ON)
    start = time.perf_counter()
    hits = evaluate_frame(ruleset, frame, on=ON)
    return len(frame) / (time.perf_counter() - start), len(hits)


def main() -> None:
    quick = "--quick" in sys.argv
    seconds = 1.0 if quick else 2.0
    packs = [("starter pack", load_rules(ROOT / "rules"))] + [(f"{n} generated", generated_rules(n))
                                                             for n in (50, 200, 500)]
    for share in (0.1, 1.0):
        lines = make_lines(30_000, wildlife_share=share)
        frame = pd.DataFrame(make_lines(100_000 if quick else 400_000, seed=3, wildlife_share=share))
        print(f"\nlines that look like wildlife trade: {share:.0%} (3 lines per declaration)")
        print(f"{'rules':>16} {'n':>5} {'online decl/s':>14} {'hits/decl':>9} {'batch lines/s':>14} {'batch hits':>10}")
        for name, ruleset in packs:
            online, per_decl = bench_online(ruleset, lines, seconds)
            batch, hits = bench_batch(ruleset, frame)
            print(f"{name:>16} {len(ruleset.rules):>5} {online:>14,.0f} {per_decl:>9.2f} {batch:>14,.0f} {hits:>10,}")


if __name__ == "__main__":
    main()
