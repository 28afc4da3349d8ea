"""How assessment cost grows with the permit registry: 10,000 to 1,000,000 permits in the database.

    .venv/bin/python benchmarks/bench_registry.py [--sizes 10000,100000,1000000] [--postgres] [--quick]

For each size a fresh database (SQLite file; PostgreSQL with --postgres, RISKENGINE_BENCH_POSTGRES_URL
or the local test server) gets N export permits of one line each, bulk-inserted. Then:
- online: `Engine.assess` of 300 new declarations, each citing a random registered permit (the
  registry read, the permit checks, rules, the reservation and the audited write): decl/s, p50, p99;
- batch: what `riskengine batch` does before its first line, scanning a 20,000-line input for the
  permits it cites and reading those from the store (`cited_permits`, `build_stages`): seconds and
  growth of resident memory; then assessing those lines (`assess_lines`, one process): lines/s.
No model is loaded (rules and permits only), so the figures show the registry's share alone.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

PG = os.environ.get("RISKENGINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ISSUED, VALID_UNTIL = dt.date(2026, 6, 1), dt.date(2026, 12, 31)
LODGED = "2026-11-20T09:00:00Z"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _number(i: int) -> str:
    return f"ZM/EX/2026/{i:07d}"


def _settings(directory: Path, url: str | None):
    from riskengine.config import load_settings
    from riskengine.demo import shipped_rules_dir

    return load_settings(None, database={"url": url or f"sqlite:///{directory / 'registry.db'}"},
                         model={"path": str(directory / "no-model")}, rules={"dir": str(shipped_rules_dir())},
                         reference={"imported_dir": str(directory / "reference")}, decision={"random_salt": "bench"})


def _drop_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    engine = create_engine(make_url(PG), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    engine.dispose()


def _fresh_postgres() -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = make_url(PG)
    name = f"bench_registry_{os.getpid()}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def fill(settings, n: int, *, block: int = 20_000) -> float:
    """Bulk-insert n one-line export permits (Crocodylus niloticus skins from ZM); returns seconds."""
    from sqlalchemy import insert
    from rich.progress import track

    from riskengine.setup import initialise
    from riskengine.store.db import Database
    from riskengine.store.tables import PermitLineRow, PermitRow

    initialise(settings)
    database = Database(settings.database.url)
    now = dt.datetime.now(dt.timezone.utc)
    document = {"exporter": {"name": "Crocodile Ranch Ltd", "country": "ZM"},
                "importer": {"name": "Lederwaren Keller AG", "country": "CH"}}
    started = time.perf_counter()
    try:
        for lo in track(range(0, n, block), description=f"{n:,} permits", transient=True):
            ids = range(lo + 1, min(n, lo + block) + 1)
            with database.session() as session:
                session.execute(insert(PermitRow), [
                    {"id": i, "issuing_country": "ZM", "number": _number(i), "type": "export", "issued_on": ISSUED,
                     "valid_until": VALID_UNTIL, "valid_until_declared": True, "status": "valid", "document": document,
                     "created_at": now, "updated_at": now} for i in ids])
                session.execute(insert(PermitLineRow), [
                    {"id": i, "permit_id": i, "line": 1, "taxon": "Crocodylus niloticus", "appendix": "II", "term": "SKI",
                     "purpose": "T", "source": "C", "quantity": 1000.0, "unit": None, "country_of_origin": "ZM",
                     "origin_permit": None, "quantity_reserved": 0.0, "quantity_used": 0.0} for i in ids])
                session.commit()
    finally:
        database.dispose()
    return time.perf_counter() - started


def _declaration(k: int, permit: int) -> dict:
    return {"declaration_id": f"REG-{k:07d}", "version": 1, "direction": "import", "lodged_at": LODGED,
            "customs_office": "CHZRH", "transport_mode": "air", "declarant_id": "D-1",
            "importer": {"id": "CH-1", "name": "Lederwaren Keller AG", "country": "CH"},
            "exporter": {"id": "ZM-1", "name": "Crocodile Ranch Ltd", "country": "ZM"},
            "country_of_export": "ZM", "country_of_destination": "CH",
            "items": [{"line": 1, "hs_code": "410390", "taxon": "Crocodylus niloticus", "country_of_origin": "ZM",
                       "quantity": 1, "unit": None, "net_mass_kg": 2.0, "value": 800.0, "currency": "USD",
                       "cites": {"term": "SKI", "purpose": "T", "source": "C"},
                       "permits": [{"number": _number(permit), "issuing_country": "ZM"}]}]}


def online(settings, n: int, count: int = 300) -> tuple[float, float, float, dict]:
    from riskengine.engine import Engine
    from riskengine.schemas import Declaration
    from riskengine.store.audit import Actor

    rng = random.Random(7)
    declarations = [Declaration.model_validate(_declaration(k, rng.randrange(1, n + 1))) for k in range(count + 20)]
    engine = Engine.from_settings(settings)
    actor = Actor("bench", "single_window")
    lanes: dict[str, int] = {}
    try:
        for d in declarations[:20]:
            engine.assess(d, actor=actor)
        timings = []
        for d in declarations[20:]:
            t = time.perf_counter()
            decision = engine.assess(d, actor=actor)
            timings.append(time.perf_counter() - t)
            lanes[decision.lane] = lanes.get(decision.lane, 0) + 1
    finally:
        engine.close()
    ms = np.array(timings) * 1e3
    return count / sum(timings), float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), lanes


def batch(settings, n: int, directory: Path, lines: int = 20_000) -> tuple[float, float, float]:
    """As `riskengine batch` starts: scan the input for cited permits, read the snapshot; then assess."""
    import pandas as pd

    from riskengine.batch import assess_lines, build_stages, cited_permits
    from riskengine.history import declaration_rows
    from riskengine.schemas import Declaration

    rng = random.Random(11)
    rows = [row for k in range(lines)
            for row in declaration_rows(Declaration.model_validate(_declaration(k, rng.randrange(1, n + 1))))]
    source = directory / "lines.parquet"
    pd.DataFrame(rows).to_parquet(source)
    before = _rss_mb()
    started = time.perf_counter()
    stages = build_stages(settings, cited=cited_permits(source))
    snapshot_s = time.perf_counter() - started
    grown = _rss_mb() - before
    frame = pd.read_parquet(source)
    started = time.perf_counter()
    decisions = assess_lines(stages, frame)
    seconds = time.perf_counter() - started
    assert len(decisions) == lines and decisions["error"].isna().all()
    return snapshot_s, grown, lines / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--postgres", action="store_true")
    parser.add_argument("--quick", action="store_true", help="10,000 and 100,000 permits")
    args = parser.parse_args()
    sizes = [10_000, 100_000] if args.quick else [int(s) for s in args.sizes.split(",")]
    print(f"database: {'PostgreSQL' if args.postgres else 'SQLite'}; peak RSS so far {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    print(f"{'permits':>10} {'fill s':>7} | {'online decl/s':>13} {'p50 ms':>7} {'p99 ms':>7} | "
          f"{'snapshot s':>10} {'snap MB':>8} {'batch lines/s':>13}")
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            url = _fresh_postgres() if args.postgres else None
            settings = _settings(Path(tmp), url)
            try:
                fill_s = fill(settings, n)
                rate, p50, p99, lanes = online(settings, n)
                snapshot_s, grown, lines_per_s = batch(settings, n, Path(tmp))
            finally:
                if url:
                    _drop_postgres(url)
            print(f"{n:>10,} {fill_s:>7.1f} | {rate:>13.1f} {p50:>7.2f} {p99:>7.2f} | "
                  f"{snapshot_s:>10.2f} {grown:>8.0f} {lines_per_s:>13,.0f}   lanes {lanes}", flush=True)


if __name__ == "__main__":
    main()
