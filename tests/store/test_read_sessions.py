"""Read sessions: one snapshot, nothing written, and on PostgreSQL statements that stay prepared."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text

from riskengine.store.db import Database
from riskengine.store.tables import EngineState

STATEMENT = select(EngineState.value).where(EngineState.key == "probe")


def test_reads_keep_postgresql_statements_prepared(postgres_url):
    """psycopg prepares a statement run five times on a connection, but forgets all it prepared when a
    transaction is rolled back: reads that ended in ROLLBACK never got a prepared statement."""
    database = Database(postgres_url)
    database.migrate()
    try:
        for _ in range(8):
            with database.read() as session:
                session.execute(STATEMENT).all()
        with database.read() as session:
            prepared = session.execute(text("SELECT statement FROM pg_prepared_statements")).scalars().all()
        assert any("engine_state" in statement for statement in prepared), prepared
    finally:
        database.dispose()


def test_a_failed_read_rolls_back_and_the_connection_stays_usable(database):
    with pytest.raises(ZeroDivisionError):
        with database.read() as session:
            session.execute(STATEMENT).all()
            1 / 0
    with database.read() as session:
        assert session.execute(STATEMENT).all() == []


def test_a_read_sees_one_snapshot(database):
    with database.session() as session:
        session.add(EngineState(key="probe", value="one"))
    with database.read() as reader:
        assert reader.execute(STATEMENT).scalar_one() == "one"
        with database.session() as writer:
            writer.get(EngineState, "probe").value = "two"
        assert reader.execute(STATEMENT).scalar_one() == "one"  # still the snapshot it started with
    with database.read() as reader:
        assert reader.execute(STATEMENT).scalar_one() == "two"
