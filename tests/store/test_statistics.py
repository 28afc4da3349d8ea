"""PostgreSQL planner statistics: a registry loaded in bulk is read through its indexes at once."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, text

from riskengine.store.db import Database
from riskengine.store.permits import _REGISTERED
from riskengine.store.tables import PermitLineRow, PermitRow

PERMITS = 30_000


def _bulk_load(database: Database, n: int) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with database.session() as session:
        session.execute(insert(PermitRow), [
            {"id": i, "issuing_country": "ZM", "number": f"ZM/EX/2026/{i:07d}", "type": "export",
             "issued_on": dt.date(2026, 6, 1), "valid_until": dt.date(2026, 12, 31), "valid_until_declared": True,
             "status": "valid", "document": {}, "created_at": now, "updated_at": now} for i in range(1, n + 1)])
        session.execute(insert(PermitLineRow), [
            {"id": i, "permit_id": i, "line": 1, "taxon": "Crocodylus niloticus", "appendix": "II", "term": "SKI",
             "purpose": "T", "source": "C", "quantity": 1000.0, "unit": None, "country_of_origin": "ZM",
             "origin_permit": None, "quantity_reserved": 0.0, "quantity_used": 0.0} for i in range(1, n + 1)])


def _plan(database: Database, numbers: list[str]) -> str:
    sql = str(_REGISTERED.params(countries=["ZM"], numbers=numbers).compile(
        dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}))
    with database.engine.connect() as connection:
        return "\n".join(connection.execute(text("EXPLAIN " + sql)).scalars())


def test_a_bulk_loaded_registry_is_analyzed_and_read_through_its_indexes(postgres_url):
    database = Database(postgres_url)
    try:
        database.migrate()
        assert database.refresh_statistics() == []  # empty tables need nothing
        _bulk_load(database, PERMITS)
        refreshed = database.refresh_statistics()
        assert {"permits", "permit_lines"} <= set(refreshed)
        with database.engine.connect() as connection:
            tuples = dict(connection.execute(text(
                "SELECT relname, reltuples FROM pg_class WHERE relname IN ('permits', 'permit_lines')")).all())
        assert tuples == {"permits": PERMITS, "permit_lines": PERMITS}
        plan = _plan(database, ["ZM/EX/2026/0001234", "ZM/EX/2026/0004321"])
        assert "Seq Scan" not in plan, plan
        assert "permit_lines" in plan and "Index" in plan
        assert database.refresh_statistics() == []  # fresh now: nothing to do twice
    finally:
        database.dispose()


def test_sqlite_needs_no_statistics(tmp_path):
    database = Database(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        database.migrate()
        _bulk_load(database, 100)
        assert database.refresh_statistics() == []
    finally:
        database.dispose()
