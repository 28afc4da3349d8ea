"""SQLite's write-ahead log is copied into the database by a thread of the server's, not by a commit."""
from __future__ import annotations

import threading
import time

from sqlalchemy import text

from riskengine.store.db import Database


def _pragma(database: Database, name: str) -> int:
    with database.session() as session:
        return session.execute(text(f"PRAGMA {name}")).scalar_one()


def _write(database: Database, rows: int, *, start: int = 0) -> None:
    with database.session() as session:
        session.execute(text("INSERT INTO t (id, payload) VALUES (:id, :payload)"),
                        [{"id": start + i, "payload": "x" * 2000} for i in range(rows)])


def _wait_for(predicate, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def _table(tmp_path) -> Database:
    database = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    with database.session() as session:
        session.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)"))
    return database


def test_commits_leave_checkpoints_to_the_thread(tmp_path):
    database = _table(tmp_path)
    try:
        assert _pragma(database, "wal_autocheckpoint") == 1000  # SQLite's own default until asked
        database.checkpoint_in_background(backstop_pages=10_000)
        assert _pragma(database, "wal_autocheckpoint") == 10_000  # the commits' inline checkpoint moved out of reach
        for k in range(30):  # 30 commits of about 100 pages: three times past the inline threshold
            _write(database, 200, start=k * 200)
        checkpointer = database.checkpointer
        assert _wait_for(lambda: checkpointer.frames >= 1000), (checkpointer.runs, checkpointer.frames)
        assert checkpointer.failures == 0
        assert 1 <= checkpointer.runs <= 31  # at most one per commit, fewer when commits come in a burst
    finally:
        database.dispose()
    reopened = Database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with reopened.read() as session:
            assert session.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
            assert session.execute(text("SELECT count(*), min(id), max(id) FROM t")).one() == (6000, 0, 5999)
    finally:
        reopened.dispose()


def test_checkpoints_run_beside_readers_and_writers(tmp_path):
    """PASSIVE checkpoints never block: concurrent writes and reads all land, and readers see their snapshots."""
    database = _table(tmp_path)
    database.checkpoint_in_background()
    errors: list[BaseException] = []

    def writer(base: int) -> None:
        try:
            for k in range(20):
                _write(database, 50, start=base + k * 50)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            for _ in range(50):
                with database.read() as session:
                    first = session.execute(text("SELECT count(*) FROM t")).scalar_one()
                    time.sleep(0.001)
                    assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == first  # one snapshot
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(b,)) for b in (0, 100_000)] + [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        assert _wait_for(lambda: database.checkpointer.runs > 0)
        with database.read() as session:
            assert session.execute(text("SELECT count(*) FROM t")).scalar_one() == 2 * 20 * 50
    finally:
        database.dispose()


def test_stopping_restores_inline_checkpoints(tmp_path):
    database = _table(tmp_path)
    try:
        database.checkpoint_in_background()
        thread = database.checkpointer
        assert thread.is_alive()
        database.stop_checkpointing()
        assert not thread.is_alive() and database.checkpointer is None
        assert _pragma(database, "wal_autocheckpoint") == 1000
        _write(database, 10)  # commits still work, and wake nothing
        database.stop_checkpointing()  # twice is harmless
    finally:
        database.dispose()


def test_nothing_to_do_in_memory(tmp_path):
    database = Database("sqlite://")
    database.checkpoint_in_background()
    assert database.checkpointer is None
    database.dispose()


def test_the_server_checkpoints_while_it_serves(tmp_path):
    from fastapi.testclient import TestClient

    from riskengine.api.app import create_app
    from riskengine.config import load_settings
    from riskengine.setup import initialise

    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'served.db'}"},
                             model={"path": str(tmp_path / "no-model")}, reference={"imported_dir": str(tmp_path / "ref")})
    initialise(settings)
    app = create_app(settings)
    with TestClient(app) as client:
        database = app.state.engine.database
        assert database.checkpointer is not None and database.checkpointer.is_alive()
        thread = database.checkpointer
        with database.session() as session:
            session.execute(text("UPDATE engine_state SET value = value"))
        assert _wait_for(lambda: thread.runs >= 1)
        scraped = client.get("/metrics").text  # what the thread did, for operators
        assert f"riskengine_sqlite_checkpoints_total {float(thread.runs)}" in scraped
        assert "riskengine_sqlite_checkpoint_failures_total 0.0" in scraped
    assert not thread.is_alive()


def test_an_engine_served_twice_reports_the_running_thread(tmp_path):
    from fastapi.testclient import TestClient

    from riskengine.api.app import create_app
    from riskengine.config import load_settings
    from riskengine.engine import Engine
    from riskengine.setup import initialise

    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'served.db'}"},
                             model={"path": str(tmp_path / "no-model")}, reference={"imported_dir": str(tmp_path / "ref")})
    initialise(settings)
    engine = Engine.from_settings(settings)
    try:
        for _ in range(2):  # registered once with the engine's metrics, whatever the number of app lifespans
            with TestClient(create_app(settings, engine=engine)) as client:
                with engine.database.session() as session:
                    session.execute(text("UPDATE engine_state SET value = value"))
                assert _wait_for(lambda: engine.database.checkpointer.runs >= 1)
                runs = engine.database.checkpointer.runs
                assert f"riskengine_sqlite_checkpoints_total {float(runs)}" in client.get("/metrics").text
            assert engine.database.checkpointer is None
            assert "riskengine_sqlite_checkpoints" not in client.get("/metrics").text  # no thread, nothing reported
    finally:
        engine.close()


def test_a_failing_checkpoint_is_counted_and_retried(tmp_path):
    """A checkpoint that cannot run (here: its database cannot be opened) is logged and counted; the
    thread lives on, tries again at the next commit, and stops when asked."""
    from sqlalchemy import create_engine

    from riskengine.store.db import Checkpointer

    missing = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'wal.db'}")
    thread = Checkpointer(missing, interval=0.01)
    thread.start()
    try:
        thread.wake()
        assert _wait_for(lambda: thread.failures == 1)
        thread.wake()
        assert _wait_for(lambda: thread.failures == 2)
        assert thread.is_alive() and thread.runs == 0
    finally:
        thread.stop()
        missing.dispose()
    assert not thread.is_alive()
