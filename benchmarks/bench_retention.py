"""How fast `riskengine retention purge` archives and removes, and whether its cost grows with what stays.

    .venv/bin/python benchmarks/bench_retention.py [--sizes 20000,100000] [--postgres]

For each size a fresh database (SQLite file; PostgreSQL with --postgres, RISKENGINE_BENCH_POSTGRES_URL
or the local test server) gets N declarations of one line, lodged evenly over eight years, each
with its assessment, two reasons and a reservation on the export permit it cites (one permit per
ten declarations, expiring six months after issue), and an outcome for one in ten; rows are
bulk-inserted, schema-true, not assessed. Then, as of the last day: a dry run, the purge itself
(about 3/8 of the declarations lie past the 5-year horizon), and a second purge that finds nothing.
A purge whose chunks each scanned everything that stays would grow with the square of the database.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
import uuid
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

PG = os.environ.get("RISKENGINE_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
START = dt.datetime(2026, 11, 28, tzinfo=dt.timezone.utc) - dt.timedelta(days=8 * 365)
AS_OF = dt.date(2026, 11, 28)


def _postgres(name: str):
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(PG), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(PG).set(database=name).render_as_string(hide_password=False)


def _fill(database, n: int, chunk: int = 5000) -> None:
    from sqlalchemy import insert

    from riskengine.store.tables import (Assessment, DeclarationLineRow, DeclarationPermitRef, DeclarationRow, OutcomeRow,
                                         PermitLineRow, PermitRow, ReasonRow, Reservation)

    step = (8 * 365 * 86400) / n
    permits = (n + 9) // 10
    with database.session() as s:
        for first in range(0, permits, chunk):
            rows, lines = [], []
            for i in range(first, min(permits, first + chunk)):
                issued = (START + dt.timedelta(seconds=i * 10 * step)).date()
                rows.append({"id": i + 1, "issuing_country": "CM", "number": f"CM/EX/{i:08d}", "type": "export", "issued_on": issued,
                             "valid_until": issued + dt.timedelta(days=182), "valid_until_declared": True, "status": "valid",
                             "document": {"number": f"CM/EX/{i:08d}"}, "created_at": START, "updated_at": START})
                lines.append({"id": i + 1, "permit_id": i + 1, "line": 1, "taxon": "Pericopsis elata", "quantity": 100.0,
                              "unit": "MTQ", "quantity_reserved": 0.0, "quantity_used": 10.0})
            s.execute(insert(PermitRow), rows)
            s.execute(insert(PermitLineRow), lines)
    for first in track(range(0, n, chunk), description=f"filling {n:,} declarations"):
        decl, dlines, refs, assess, reasons, reserv, outcomes = [], [], [], [], [], [], []
        for i in range(first, min(n, first + chunk)):
            at = START + dt.timedelta(seconds=i * step)
            did, aid, number = f"D{i:09d}", str(uuid.UUID(int=i + 1)), f"CM/EX/{i // 10:08d}"
            decl.append({"id": i + 1, "declaration_id": did, "version": 1, "body": {"declaration_id": did, "items": [{"line": 1}]},
                         "body_hash": "0" * 64, "lodged_at": at, "received_at": at})
            dlines.append({"declaration_pk": i + 1, "declaration_id": did, "line": 1, "lodged_at": at, "importer_id": "I1",
                           "exporter_id": f"E{i % 500}", "country_of_export": "CM", "country_of_destination": "CH", "hs4": "4403",
                           "permits": f"CM:{number}"})
            refs.append({"declaration_pk": i + 1, "declaration_id": did, "line": 1, "issuing_country": "CM", "number": number, "lodged_at": at})
            assess.append({"id": aid, "declaration_pk": i + 1, "declaration_id": did, "declaration_version": 1, "decision": "release",
                           "lane": "green", "score": 10.0, "random_selection": False, "customs_office": "CHZRH", "assessed_at": at,
                           "response": {"assessment_id": aid}, "inputs": {}, "actor": "sw"})
            reasons += [{"assessment_id": aid, "position": p, "source": "rule", "rule_id": f"R-{p}"} for p in (0, 1)]
            reserv.append({"assessment_id": aid, "permit_line_id": i // 10 + 1, "declaration_line": 1, "quantity": 1.0, "state": "used"})
            if i % 10 == 0:
                outcomes.append({"assessment_id": aid, "result": "no_discrepancy", "officer": "o", "body": {}, "recorded_at": at, "actor": "o"})
        with database.session() as s:
            for table, rows in ((DeclarationRow, decl), (DeclarationLineRow, dlines), (DeclarationPermitRef, refs), (Assessment, assess),
                                (ReasonRow, reasons), (Reservation, reserv), (OutcomeRow, outcomes)):
                if rows:
                    s.execute(insert(table), rows)
    database.refresh_statistics()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000,100000")
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()

    from riskengine.retention import purge
    from riskengine.store.audit import Actor
    from riskengine.store.db import Database

    table = Table(title=f"retention purge as of {AS_OF}, 5 years ({'PostgreSQL' if args.postgres else 'SQLite'})")
    for column in ("size", "dry run s", "purge s", "removed", "permits removed", "removed/s", "again s"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            name = f"rk_bench_retention_{n}"
            url = _postgres(name) if args.postgres else f"sqlite:///{Path(tmp) / f'r{n}.db'}"
            database = Database(url)
            database.migrate()
            _fill(database, n)
            actor = Actor("bench", "admin")
            started = time.perf_counter()
            dry = purge(database, years=5, as_of=AS_OF, archive=None, actor=actor, dry_run=True)
            dry_s = time.perf_counter() - started
            started = time.perf_counter()
            done = purge(database, years=5, as_of=AS_OF, archive=Path(tmp) / f"a{n}.jsonl", actor=actor)
            purge_s = time.perf_counter() - started
            assert (dry.declarations, dry.permits) == (done.declarations, done.permits), (dry, done)
            started = time.perf_counter()
            again = purge(database, years=5, as_of=AS_OF, archive=Path(tmp) / f"b{n}.jsonl", actor=actor)
            again_s = time.perf_counter() - started
            assert again.declarations == 0
            table.add_row(f"{n:,}", f"{dry_s:.2f}", f"{purge_s:.2f}", f"{done.declarations:,}", f"{done.permits:,}",
                          f"{done.declarations / purge_s:,.0f}", f"{again_s:.2f}")
            database.dispose()
            if args.postgres:
                from sqlalchemy import create_engine, text
                from sqlalchemy.engine import make_url

                admin = create_engine(make_url(PG), isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    Console().print(table)


if __name__ == "__main__":
    main()
