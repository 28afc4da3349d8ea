"""Database engine, sessions and migrations: SQLite (WAL) by default, PostgreSQL the same way."""
from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, InterfaceError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

__all__ = ["Database", "StoreUnavailable", "is_unavailable"]

MIGRATIONS = Path(__file__).with_name("migrations")

log = logging.getLogger("riskengine.store")

# Tables whose planner statistics are missing or stale: never analyzed yet holding rows, grown by a
# tenth in pages since the last ANALYZE (the file size is current at once, where the statistics
# collector's counters may lag a second or more behind a load), or changed as autovacuum's default
# rule has it (50 rows plus 10% of the table). reltuples is -1 for a table never analyzed.
_STALE_TABLES = text(
    "SELECT c.relname FROM pg_class c JOIN pg_stat_user_tables s ON s.relid = c.oid "
    "WHERE s.schemaname = current_schema() AND ("
    " (c.reltuples < 0 AND pg_relation_size(c.oid) > 0)"
    " OR pg_relation_size(c.oid) / current_setting('block_size')::int > 1.1 * c.relpages + 8"
    " OR s.n_mod_since_analyze > 50 + 0.1 * greatest(c.reltuples, 0))"
)


class StoreUnavailable(RuntimeError):
    """The database cannot be reached or written; the caller answers 503 and decides nothing."""

    code = "DATABASE_UNAVAILABLE"


def is_unavailable(exc: BaseException) -> bool:
    """Whether a database error means "cannot reach or lock the database" rather than a bad query."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


class Database:
    """One SQLAlchemy engine plus a session factory; writes open an immediate transaction on SQLite."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.engine: Engine = create_engine(
                url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
            )
            # read by the connect listener: the WAL size at which a committing connection
            # checkpoints inline (SQLite's default, 1,000 pages, unless `checkpoint_in_background`)
            self._autocheckpoint_pages = 1000
            on_connect = functools.partial(_sqlite_on_connect, self)
            event.listen(self.engine, "connect", on_connect)
            # BEGIN is emitted by the dialect's do_begin, not a "begin" event listener: any connection
            # event listener makes SQLAlchemy dispatch its before/after execute hooks on every
            # statement, about a tenth of an assessment's CPU time. Each engine has its own dialect.
            self.engine.dialect.do_begin = _begin_with("BEGIN IMMEDIATE")
            # Readers take no write lock: WAL lets them run beside the one writer.
            self.read_engine: Engine = create_engine(
                url, echo=echo, connect_args={"timeout": 30, "check_same_thread": False}
            )
            event.listen(self.read_engine, "connect", on_connect)
            self.read_engine.dialect.do_begin = _begin_with("BEGIN")
        else:
            self.engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=10)
            self.read_engine = self.engine
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        # A read is one snapshot: SQLite's deferred BEGIN gives it; on PostgreSQL READ COMMITTED would
        # let each statement see other commits, so a read runs in REPEATABLE READ (psycopg starts the
        # transaction with that level: no extra round trip; a read-only transaction never fails on it).
        readers = self.read_engine if self.is_sqlite else self.engine.execution_options(isolation_level="REPEATABLE READ")
        self._readers = sessionmaker(readers, expire_on_commit=False)
        # SQLite has one writer at a time; threads of this process queue here rather than in SQLite's
        # busy handler, whose sleeps of up to 100 ms turned contention into seconds of latency.
        self._write_lock = threading.Lock() if self.is_sqlite else contextlib.nullcontext()
        self.checkpointer: Checkpointer | None = None

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed on success, rolled back on any error."""
        try:
            with self._write_lock, self._sessions.begin() as session:
                yield session
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(f"database unavailable: {exc.orig}") from exc
        if self.checkpointer is not None:
            self.checkpointer.wake()

    def checkpoint_in_background(self, *, backstop_pages: int = 10_000) -> None:
        """On a SQLite file, copy the write-ahead log into the database from a thread of its own.

        SQLite otherwise checkpoints inside the commit that takes the log past 1,000 pages: under
        load one write transaction in four paid about 30 ms for it, a spike on every request of
        that batch. The thread runs a PASSIVE checkpoint after commits (it never blocks readers or
        the writer, and SQLite works without the GIL meanwhile); commits checkpoint inline only
        past `backstop_pages`, should the thread fall behind. For the server, while it serves:
        `stop_checkpointing` (or `dispose`) ends it.
        """
        if not self.is_sqlite or self.checkpointer is not None or _in_memory(self.url):
            return
        self._autocheckpoint(backstop_pages)
        self.checkpointer = Checkpointer(self.read_engine)
        self.checkpointer.start()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: one consistent snapshot, no write lock.

        A read that went well ends with COMMIT, not ROLLBACK: on PostgreSQL psycopg forgets every
        statement it prepared on a connection when it rolls a transaction back, so ending each read
        with a rollback kept every statement from ever being prepared, and the server parsed and
        planned each of them anew (batches of 32 assessments went from 220 to 290 a second when they
        no longer did). A read writes nothing, so the two ends are the same to the database.
        """
        try:
            with self._readers() as session:
                try:
                    yield session
                except BaseException:
                    session.rollback()
                    raise
                session.commit()
        except (OperationalError, InterfaceError) as exc:
            raise StoreUnavailable(f"database unavailable: {exc.orig}") from exc

    def migrate(self, revision: str = "head") -> None:
        """Create or upgrade the schema to the newest Alembic revision (or to `revision`)."""
        cfg = AlembicConfig()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        cfg.attributes["connection_url"] = self.url
        with self.engine.begin() as connection:
            cfg.attributes["connection"] = connection
            command.upgrade(cfg, revision)

    def refresh_statistics(self) -> list[str]:
        """On PostgreSQL, ANALYZE our tables whose planner statistics are missing or stale; their names.

        Without statistics (right after a bulk load, or where autovacuum is off) PostgreSQL guesses
        that an equality matches 0.5% of a table and joins a cited permit to its lines by scanning
        every permit line: 87 ms per assessment at 1,000,000 permits instead of 0.05 ms. The engine
        calls this when it starts, and the permit import when it has loaded. SQLite's planner needs
        no statistics for these indexed lookups.
        """
        if self.is_sqlite:
            return []
        from riskengine.store.tables import Base

        try:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                stale = sorted(set(connection.execute(_STALE_TABLES).scalars()) & set(Base.metadata.tables))
                for name in stale:
                    connection.exec_driver_sql(f'ANALYZE "{name}"')
        except DBAPIError as exc:  # not the owner, or the server went away: the engine still works, slower
            log.warning("could not refresh planner statistics: %s", exc.orig)
            return []
        if stale:
            log.info("planner statistics refreshed for %s", ", ".join(stale))
        return stale

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def stop_checkpointing(self) -> None:
        """End `checkpoint_in_background`: commits checkpoint inline again, as SQLite does by default."""
        if self.checkpointer is None:
            return
        self.checkpointer.stop()
        self.checkpointer = None
        self._autocheckpoint(1000)

    def _autocheckpoint(self, pages: int) -> None:
        """The WAL size at which a committing connection checkpoints inline, from now on."""
        self._autocheckpoint_pages = pages
        self.engine.dispose()  # pooled connections opened before keep the old setting: reopen them
        self.read_engine.dispose()

    def dispose(self) -> None:
        self.stop_checkpointing()
        self.engine.dispose()
        self.read_engine.dispose()


class Checkpointer(threading.Thread):
    """The thread of `Database.checkpoint_in_background`: a PASSIVE checkpoint after commits.

    Woken by each commit, it checkpoints at most every `interval` seconds, so a burst of commits
    costs one checkpoint. `runs`, `frames` (WAL frames copied) and `failures` tell what it did; a
    failed checkpoint is logged and retried at the next wake, and commits stay correct without any
    (SQLite's own inline checkpoint is the backstop).
    """

    def __init__(self, read_engine: Engine, *, interval: float = 0.05) -> None:
        super().__init__(name="riskengine-sqlite-checkpoint", daemon=True)
        self._engine = read_engine
        self._interval = interval
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self.runs = self.frames = self.failures = 0

    def wake(self) -> None:
        self._wakeup.set()

    def stop(self) -> None:
        self._stopping.set()
        self._wakeup.set()
        self.join(timeout=30)

    def run(self) -> None:
        connection = None
        try:
            while not self._stopping.is_set():
                self._wakeup.wait()
                self._wakeup.clear()
                if self._stopping.is_set():
                    break
                try:
                    if connection is None:
                        connection = self._engine.raw_connection()
                    cursor = connection.cursor()
                    try:
                        _busy, _in_log, copied = cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                    finally:
                        cursor.close()
                    self.runs += 1
                    self.frames += max(0, copied)
                except Exception as exc:
                    self.failures += 1
                    log.warning("background WAL checkpoint failed: %s", exc)
                    if connection is not None:
                        connection.invalidate()
                        connection = None
                self._stopping.wait(self._interval)
        finally:
            if connection is not None:
                connection.close()


def _in_memory(url: str) -> bool:
    database = make_url(url).database
    return not database or database == ":memory:" or database.startswith("file::memory:")


def _sqlite_on_connect(database: Database, dbapi_connection, _record) -> None:
    # Take over transaction control from pysqlite so BEGIN IMMEDIATE below is ours to emit.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={int(database._autocheckpoint_pages)}")
    cursor.close()


def _begin_with(sql: str):
    """A dialect `do_begin` that starts the transaction with `sql`: BEGIN for readers (deferred: a
    snapshot at the first read), BEGIN IMMEDIATE for writers, who queue on the database lock at BEGIN
    instead of failing when they upgrade from a read."""

    def do_begin(dbapi_connection) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(sql)
        finally:
            cursor.close()

    return do_begin
