"""Cost of the CITES reference data on the online path: taxon lookups, and importing the WCMC export.

    .venv/bin/python benchmarks/bench_reference.py [--wcmc ../shared/data/cites]

Every declaration line looks its taxon up (accepted name, synonyms, appendix, split listings).
Prints microseconds per lookup, answered from the cache and resolved anew, for the shipped
reference data and, with --wcmc, for a full UNEP-WCMC Species+ export imported first (whose import
time is printed too). These figures replaced timed unit tests: a test asserts what a lookup
answers, this script shows what it costs.
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

NAMES = ["Dalbergia retusa", "Loxodonta africana", "Amazona aestiva", "Python regius", "Anguilla anguilla",
         "Panthera leo", "Psittacus erithacus", "Homo sapiens", "Pterocarpus santalinus", "Crocodylus niloticus"]


def _per_lookup_us(lookup, names: list[str], repeat: int) -> float:
    started = time.perf_counter()
    for _ in range(repeat):
        for name in names:
            lookup(name)
    return (time.perf_counter() - started) / (repeat * len(names)) * 1e6


def measure(label: str, reference) -> tuple[str, float, float]:
    from riskengine.reference import taxa

    taxonomy = reference.taxonomy
    cached = _per_lookup_us(reference.lookup, NAMES, 10_000)
    limit = taxa._CACHE_LIMIT
    taxa._CACHE_LIMIT = 0  # every lookup clears the cache first: the cost of resolving a name anew
    try:
        taxonomy._cache.clear()
        fresh = _per_lookup_us(reference.lookup, NAMES, 200)
    finally:
        taxa._CACHE_LIMIT = limit
    return label, cached, fresh


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wcmc", type=Path, help="a UNEP-WCMC export folder to import and measure as well")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    from riskengine.reference import Reference, import_wcmc

    rows = [measure("shipped", Reference.load())]
    if args.wcmc:
        with tempfile.TemporaryDirectory() as out:
            started = time.perf_counter()
            report = import_wcmc(args.wcmc, Path(out), progress=True)
            elapsed = time.perf_counter() - started
            print(f"WCMC import: {report.counts['taxa']:,} taxa, {report.counts['listed taxa']:,} listed, in {elapsed:.1f} s")
            rows.append(measure("WCMC export", Reference.load(imported_dir=Path(out))))
    table = Table(title="taxon lookup")
    for column in ("reference", "cached µs", "resolved anew µs"):
        table.add_column(column, justify="right")
    for label, cached, fresh in rows:
        table.add_row(label, f"{cached:.2f}", f"{fresh:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
