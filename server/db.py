"""Database access: one write path and one read path, with bounded retries.

SQLite (the embedded default) runs in WAL mode; every write transaction
starts with BEGIN IMMEDIATE so two writers queue on the lock at the start
instead of deadlocking when a reader upgrades. Reads use a second engine with
plain deferred transactions, which WAL lets run beside the writer.

PostgreSQL runs at READ COMMITTED; the code takes row locks in a fixed order
(terminal row, accounts sorted by key, the version counter, cards), and a
deadlock or serialization failure that still happens is retried a bounded
number of times. Ingest takes the shared rows (accounts such as coop:issued,
the counter) last, right before its commit, since each stays locked until then.

Writes that queue anyway may share one transaction (write_grouped): on
SQLite, where every write waits for the one file lock, uploads that arrived
while another was written go in together, one savepoint each, one commit
(not on PostgreSQL: see write_grouped).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Final, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError

from floreyn.server import bulk
from floreyn.server.errors import Busy

T = TypeVar("T")
log = logging.getLogger("floreyn.server.db")
MAX_ATTEMPTS: Final = 8
_RETRY_SQLSTATES: Final = frozenset({"40001", "40P01", "55P03"})
MIGRATIONS: Final = Path(__file__).parent / "migrations"
# Connections one server process keeps open to PostgreSQL, and as many again at a peak, plus the apart path's
# (apart_pool_size): `serve --workers N` needs at most N x (2 x pool_size + apart), which must stay below
# max_connections (docs/operations.md). Uploads waiting for their turn hold none (write_grouped), reads hold one
# briefly.
DEFAULT_POOL_SIZE: Final = 10
# Uploads one process writes at once on PostgreSQL (write_grouped); the others wait their turn in arrival
# order. Several, so one upload's own rows (records, postings: most of its transaction) are written while
# another holds the shared rows; few, so that the shared rows' queue is short. At 40 tills and one worker,
# 4 and 8 gave an upload p99 of 1.6-2.3 s, all 40 at once 2.9-3.0 s with time-outs (bench/server_http_ingest.py).
UPLOADS_AT_ONCE: Final = 4
MIGRATE_LOCK_ID: Final = 0x466C6F72  # pg_advisory_xact_lock: two servers starting at once migrate one at a time
MIN_APART_POOL: Final = 2  # PostgreSQL connections of the apart write path per process, at least (_pg_apart_engine)
APART_SUFFIX: Final = "-apart"  # the SQLite file beside the ledger's for small writes that must not queue (nonces)


def normalise_url(url: str) -> str:
    """postgresql:// means psycopg 3 here (SQLAlchemy's default driver would be psycopg2)."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def _sqlite_engine(url: str, *, immediate: bool, synchronous: str = "FULL", checkpoint_apart: bool = False
                   ) -> Engine:
    """`checkpoint_apart`: its commits never checkpoint the WAL themselves (_Checkpointer does, off the write lock)."""
    engine = create_engine(url, pool_size=10, max_overflow=20, connect_args={"check_same_thread": False,
                                                                           "timeout": 30})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: an acknowledged upload survives a power cut, not only a process crash.
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        # Record ids, transaction ids and their index entries are random UUIDs: a page cache of 64 MB keeps
        # those B-tree inserts in memory (the 2 MB default made ingest fall to half speed at 100k records).
        cur.execute("PRAGMA cache_size=-65536")
        if checkpoint_apart:
            cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        bulk.run(conn, "BEGIN IMMEDIATE" if immediate else "BEGIN")  # straight to sqlite3: every transaction starts so

    return engine


def apart_pool_size(pool_size: int) -> int:
    """PostgreSQL connections of a process's apart write path (nonces) beside its `pool_size` (never more)."""
    return max(MIN_APART_POOL, pool_size // 4)


def _pg_apart_engine(url: str, pool_size: int) -> Engine:
    """PostgreSQL's apart write path (Database.write_apart): its own small pool of connections in autocommit with
    synchronous_commit off, set once per connection. Row locks leave nothing to queue behind here; what it saves is
    round trips: a nonce taken in the ordinary write path cost four (BEGIN, SET LOCAL synchronous_commit, the
    INSERT, COMMIT), each waiting for the database's process to be scheduled on a busy machine; here it is one
    statement, its own transaction, committed without waiting for the WAL flush (server/nonces.py)."""
    # Each holds its connection for one statement: a few suffice, and a burst waits for one rather than opening
    # more (the connections a server needs stay countable: docs/operations.md, "Workers, pool and settings").
    engine = create_engine(url, pool_size=apart_pool_size(pool_size), max_overflow=0, pool_recycle=1800,
                           isolation_level="AUTOCOMMIT")

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        with dbapi_conn.cursor() as cur:
            cur.execute("SET synchronous_commit = off")
        dbapi_conn.commit()  # a session setting, kept for the connection's life

    return engine


class _WriteGate:
    """One SQLite writer at a time, across threads and processes, handed over without sleeping.

    SQLite's own busy handler polls with sleeps of up to 100 ms; with a few
    writers queued that costs more than the writes. A thread lock plus an
    flock on a file beside the database wakes the next writer the moment the
    previous one commits (also between `serve --workers` processes).
    """

    def __init__(self, db_path: str) -> None:
        self._thread_lock = threading.Lock()
        self._path = db_path + "-writelock"
        self._fd: int | None = None

    def __enter__(self) -> None:
        self._thread_lock.acquire()
        try:
            if self._fd is None:
                self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._thread_lock.release()
            raise

    def __exit__(self, *exc: object) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._thread_lock.release()


# Writes between two checkpoints (_Checkpointer). A checkpoint after every write (an upload group) fsynced the
# database file as often as the WAL, and the writer's own fsync waited behind it: no gain measured; after every
# 8th, about as often as the automatic one came, the write lock was held 22 % shorter per record (median).
CHECKPOINT_EVERY_WRITES: Final = 8


class _Checkpointer:
    """Copies a SQLite file's WAL into the database file after writes, on a thread of its own (one at a time).

    SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 pages: it read those
    pages back, wrote them into the database file and fsynced it while the write lock was held, and every
    upload queued behind it waited. The writer's connections have it off (wal_autocheckpoint=0); every
    CHECKPOINT_EVERY_WRITES-th write asks for a PASSIVE checkpoint here instead, the kind the automatic one
    is: it runs beside the next writers (WAL mode lets it), copies what was committed and no reader still
    needs, and leaves the rest to the next one. Measured with bench/server_http_ingest.py (40 tills x 500,
    1 worker, 4 pairs interleaved with the code before, quiet machine): the write lock held a median 149 us
    per record instead of 192, and the tills' records/s rose 19 %.
    """

    def __init__(self, engine: Engine) -> None:
        self._engine = engine  # a reader's: its connections begin no write transaction
        self._lock = threading.Lock()
        self._writes = 0  # committed through this Database
        self._wanted = False  # a checkpoint was asked for since the running one began
        self._running: threading.Thread | None = None
        self._pid = os.getpid()

    def request(self) -> None:
        """After a write committed: every CHECKPOINT_EVERY_WRITES-th write starts a checkpoint (or asks the
        running one to go on)."""
        with self._lock:
            self._writes += 1
            if self._writes % CHECKPOINT_EVERY_WRITES:
                return
            self._wanted = True
            if self._pid != os.getpid():  # a forked child: the parent's thread does not run here
                self._running, self._pid = None, os.getpid()
            if self._running is None:
                self._running = threading.Thread(target=self._drain, name="floreyn-checkpoint", daemon=True)
                self._running.start()

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._wanted:
                    self._running = None
                    return
                self._wanted = False
            self._checkpoint()

    def _checkpoint(self) -> None:
        try:
            raw = self._engine.raw_connection()
            try:
                raw.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()  # type: ignore[union-attr]
            finally:
                raw.close()
        except Exception:  # noqa: BLE001 - nothing is lost: the WAL keeps the pages for the next checkpoint
            log.warning("WAL checkpoint failed; the next write tries again", exc_info=True)

    def wait(self) -> None:
        """Until no checkpoint runs (before the engine is disposed)."""
        with self._lock:
            running = self._running if self._pid == os.getpid() else None
        if running is not None:
            running.join()


MAX_GROUP_WRITES: Final = 8  # writes that share one transaction and one commit at most (write_grouped)


@dataclass(eq=False)
class _Waiting:
    fn: Callable[[Connection], object]
    done: threading.Event = field(default_factory=threading.Event)
    lead: bool = False  # woken to write the next group, not with a result
    result: object = None
    error: BaseException | None = None


class _WriteGroups:
    """Writes that arrive while another is under way are written together, in arrival order.

    The first caller writes; callers arriving meanwhile queue. When its
    transaction commits, the writer hands the queue to the longest waiting
    caller, who writes up to MAX_GROUP_WRITES of them in one transaction,
    each in its own savepoint, with one commit (one fsync) for all. Arrival
    order also makes the wait fair: a lock handed over at random let some
    uploads wait past the till's timeout while later ones went first.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._queue: deque[_Waiting] = deque()
        self._writing = False

    def run(self, fn: Callable[[Connection], T]) -> T:
        me = _Waiting(fn)
        with self._lock:
            self._queue.append(me)
            lead = not self._writing
            self._writing = True
        if not lead:
            me.done.wait()
        if me.lead or lead:
            self._write_next()
            me.done.wait()
        if me.error is not None:
            raise me.error
        return me.result  # type: ignore[return-value]  # what fn returned

    def _write_next(self) -> None:
        with self._lock:
            group = [self._queue.popleft() for _ in range(min(MAX_GROUP_WRITES, len(self._queue)))]
        results: list[object]
        try:
            results = self._db.write(lambda conn: [_in_savepoint(conn, w.fn) for w in group])
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the group, raised there
            results = [_Failed(exc)] * len(group)
        with self._lock:
            successor = self._queue[0] if self._queue else None
            if successor is None:
                self._writing = False
            else:
                successor.lead = True
        for w, outcome in zip(group, results, strict=True):
            if isinstance(outcome, _Failed):
                w.error = outcome.error
            else:
                w.result = outcome
            w.done.set()
        if successor is not None:  # the longest waiting caller writes the next group
            successor.done.set()


class _FairGate:
    """At most `permits` callers inside at once; the others wait and enter in arrival order.

    PostgreSQL's uploads all update a few shared rows (coop:issued, the version counter) and queue on their
    row locks; a blocked upsert waits for the holder's transaction without a place in a queue, so at each
    commit every waiter wakes and one at random goes next, and the pool's checkout is no queue either. Forty
    uploads then finished in random order: the median fine, the slowest past the till's timeout. Waiting here
    instead, in arrival order, the tail is the queue's length, not bad luck.
    """

    def __init__(self, permits: int) -> None:
        assert permits >= 1
        self._lock = threading.Lock()
        self._free = permits
        self._queue: deque[threading.Event] = deque()

    def __enter__(self) -> None:
        with self._lock:
            if self._free > 0 and not self._queue:
                self._free -= 1
                return
            turn = threading.Event()
            self._queue.append(turn)
        turn.wait()  # the permit was handed over by __exit__

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            if self._queue:
                self._queue.popleft().set()  # the permit goes straight to the longest waiting caller
            else:
                self._free += 1


@dataclass(frozen=True, slots=True)
class _Failed:
    error: BaseException


def _in_savepoint(conn: Connection, fn: Callable[[Connection], object]) -> object:
    """fn's result, or _Failed with what it raised (its writes undone, the group's others kept).

    The savepoint's statements go straight to sqlite3 (groups are SQLite's only: write_grouped), each upload
    sends them while the group holds the write lock: SQLAlchemy's begin_nested() and commit() cost ~60 us, the
    bare statements ~2 us."""
    bulk.run(conn, f"SAVEPOINT {_GROUPED}")
    try:
        result = fn(conn)
    except DBAPIError as exc:
        if _retryable(exc):
            raise  # the whole group is retried (a deadlock, a lost connection)
        _undo(conn)
        return _Failed(exc)
    except Exception as exc:  # noqa: BLE001 - raised in fn's own caller
        _undo(conn)
        return _Failed(exc)
    bulk.run(conn, f"RELEASE SAVEPOINT {_GROUPED}")
    return result


_GROUPED: Final = "grouped_write"  # the savepoint of each write in a group: one at a time, never nested


def _undo(conn: Connection) -> None:
    bulk.run(conn, f"ROLLBACK TO SAVEPOINT {_GROUPED}")
    bulk.run(conn, f"RELEASE SAVEPOINT {_GROUPED}")


class Database:
    def __init__(self, url: str, pool_size: int = DEFAULT_POOL_SIZE) -> None:
        self.url = normalise_url(url)
        self.is_sqlite = make_url(self.url).get_backend_name() == "sqlite"
        if self.is_sqlite:
            path = make_url(self.url).database or ":memory:"  # sqlite:// without a file is in memory too
            on_file = path != ":memory:"
            if on_file:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.writer = _sqlite_engine(self.url, immediate=True, checkpoint_apart=on_file)
            self.reader = _sqlite_engine(self.url, immediate=False)
            self._checkpointer = _Checkpointer(self.reader) if on_file else None
            self._gate: _WriteGate | contextlib.nullcontext = (
                _WriteGate(path) if on_file else contextlib.nullcontext())
            self.apart, self._apart_gate = self.writer, self._gate
            if on_file:
                # Its own file, so its own write lock: a nonce is written in well under a millisecond instead of
                # waiting behind an upload's ledger transaction. NORMAL (no fsync per commit, WAL): a power cut
                # may forget the last nonces, which only matters for a replay inside the 5-minute window of
                # requests that change nothing or are idempotent by their request id (sync/auth.py).
                apart = make_url(self.url).set(database=path + APART_SUFFIX).render_as_string(hide_password=False)
                self.apart = _sqlite_engine(apart, immediate=True, synchronous="NORMAL")
                self._apart_gate = _WriteGate(path + APART_SUFFIX)
        else:
            # No pre-ping round trip per checkout: a connection the server dropped fails its first
            # statement, SQLAlchemy invalidates the pool, and _run retries on a fresh connection.
            self.writer = create_engine(self.url, pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
            # Plain reads at READ COMMITTED see each statement's own moment anyway; in autocommit they skip
            # the BEGIN and COMMIT round trips (a balance read is one round trip).
            self.reader = self.writer.execution_options(isolation_level="AUTOCOMMIT")
            self._gate = contextlib.nullcontext()
            self.apart, self._apart_gate = _pg_apart_engine(self.url, pool_size), self._gate
            self._checkpointer = None
        # Reads that compare several statements (replay, reports) need one snapshot of the data; on SQLite a
        # read transaction in WAL mode already is one.
        self.snapshot_reader = (self.reader if self.is_sqlite
                                else self.writer.execution_options(isolation_level="REPEATABLE READ"))
        self._groups = _WriteGroups(self)
        self._uploads = _FairGate(UPLOADS_AT_ONCE)

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run fn in one write transaction; retried when the database asks for it, never half-applied."""
        return self._run(self.writer, fn, self._gate)

    def write_grouped(self, fn: Callable[[Connection], T]) -> T:
        """As write(), but fn may share its transaction and commit with writes waiting at the same time.

        fn runs in its own savepoint: what it raises undoes its writes only, and is raised here. For
        many small writes that queue on one lock (uploads): one commit for the group (_WriteGroups).
        SQLite only: on PostgreSQL writers do not queue on one lock, and a group would hold the rows
        of its first write (coop:issued, the version counter) while it takes those of the next, which
        deadlocks with another process's group; there each fn gets its own transaction, as write(),
        at most UPLOADS_AT_ONCE of them at once, in arrival order (_FairGate).
        """
        if self.is_sqlite:
            return self._groups.run(fn)
        with self._uploads:
            return self.write(fn)

    def write_apart(self, fn: Callable[[Connection], T]) -> T:
        """Run fn in a write path that never waits for the ledger's writes, nor for the disk.

        On a SQLite file that is a second database file with its own lock (APART_SUFFIX), one transaction; on an
        in-memory SQLite the ordinary write path. On PostgreSQL (row locks: nothing to queue behind) connections
        in autocommit with synchronous_commit off (_pg_apart_engine): each of fn's statements is its own
        transaction, so fn writes what one statement can write whole. fn must create what it needs there
        (nonces.remember_apart).
        """
        return self._run(self.apart, fn, self._apart_gate)

    def read(self, fn: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        """Run fn in a read transaction; `snapshot` when its statements must see one moment."""
        return self._run(self.snapshot_reader if snapshot else self.reader, fn, contextlib.nullcontext())

    def _run(self, engine: Engine, fn: Callable[[Connection], T], gate) -> T:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                with gate, engine.begin() as conn:
                    result = fn(conn)
                if engine is self.writer and self._checkpointer is not None:
                    self._checkpointer.request()  # committed, the write lock handed on
                return result
            except DBAPIError as exc:
                if not _retryable(exc) or attempt == MAX_ATTEMPTS:
                    if _retryable(exc):
                        raise Busy() from exc
                    raise
                log.info("retrying transaction after %s (attempt %d)", type(exc.orig).__name__, attempt)
                time.sleep(min(0.5, 0.005 * 2**attempt) * random.uniform(0.5, 1.0))
        raise AssertionError("unreachable")

    def migrate(self) -> None:
        migrate(self)

    def dispose(self) -> None:
        if self._checkpointer is not None:
            self._checkpointer.wait()
        self.writer.dispose()
        self.apart.dispose()  # its own pool on PostgreSQL and on a SQLite file; the writer's otherwise (disposed twice)
        if self.is_sqlite:  # on PostgreSQL the readers are views of the writer's pool
            self.reader.dispose()


def _retryable(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate in _RETRY_SQLSTATES:
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


def alembic_config(db: Database):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def head_revision() -> str:
    """The newest schema revision this release knows (what `migrate` brings a database to)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None, "the migrations folder has exactly one head"
    return head


def migrate(db: Database, revision: str = "head") -> None:
    """Bring the schema to `revision` (Alembic); safe to run on every start."""
    from alembic import command

    cfg = alembic_config(db)
    with db.writer.begin() as conn:
        if not db.is_sqlite:  # several server processes may start at once against one PostgreSQL
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATE_LOCK_ID})")
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
