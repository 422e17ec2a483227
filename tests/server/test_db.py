"""Database.write_grouped: on SQLite writes that queue share one transaction, each in its own savepoint, in
arrival order; on PostgreSQL each is its own transaction, at most UPLOADS_AT_ONCE at once, the others entering
in arrival order. Either way a failing write undoes only itself."""

import threading
import uuid

import pytest
from sqlalchemy import select

from floreyn.server import schema as s
from floreyn.server import state
from floreyn.server.db import DEFAULT_POOL_SIZE, UPLOADS_AT_ONCE, Database, apart_pool_size
from support import wait

QUEUE_TIMEOUT_S = 30  # bounded wait for the writers to queue behind the first one


def _stored(database, keys):
    return set(database.read(lambda conn: conn.execute(
        select(s.settings.c.key).where(s.settings.c.key.in_(keys))).scalars()))


@pytest.fixture
def sqlite_database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'groups.db'}")
    db.migrate()
    yield db
    db.dispose()


def test_a_failing_write_undoes_only_its_own_part_of_the_group(sqlite_database):
    database = sqlite_database
    tag = uuid.uuid4().hex[:8]
    first_writing, release = threading.Event(), threading.Event()
    results: dict[str, object] = {}

    def first(conn):
        state.put_setting(conn, f"{tag}-first", 1)
        first_writing.set()
        assert release.wait(QUEUE_TIMEOUT_S)
        return "first"

    def writer(name, fails=False):
        def fn(conn):
            state.put_setting(conn, f"{tag}-{name}", 1)
            if fails:
                raise ValueError(name)
            return name
        try:
            results[name] = database.write_grouped(fn)
        except ValueError as exc:
            results[name] = exc

    lead = threading.Thread(target=lambda: results.update(first=database.write_grouped(first)))
    lead.start()
    assert first_writing.wait(QUEUE_TIMEOUT_S)
    others = [threading.Thread(target=writer, args=(n, n == "b")) for n in ("a", "b", "c")]
    for t in others:
        t.start()
    # all three wait behind the first write: the next group
    wait.until(lambda: len(database._groups._queue) >= 3, QUEUE_TIMEOUT_S, "the writers queueing")
    release.set()
    for t in [lead, *others]:
        t.join(QUEUE_TIMEOUT_S)
    assert results["first"] == "first" and results["a"] == "a" and results["c"] == "c"
    assert isinstance(results["b"], ValueError)
    assert _stored(database, [f"{tag}-{n}" for n in ("first", "a", "b", "c")]) == {
        f"{tag}-first", f"{tag}-a", f"{tag}-c"}
    assert not database._groups._writing and not database._groups._queue  # nobody is left writing or waiting


@pytest.mark.parametrize("writers", [1, 20])
def test_every_grouped_write_returns_its_own_result(database, writers):
    tag = uuid.uuid4().hex[:8]
    got: dict[int, object] = {}

    def run(i):
        got[i] = database.write_grouped(lambda conn: (state.put_setting(conn, f"{tag}-{i}", i), i)[1])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(QUEUE_TIMEOUT_S)
    assert got == {i: i for i in range(writers)}
    assert len(_stored(database, [f"{tag}-{i}" for i in range(writers)])) == writers


def test_a_failing_grouped_write_is_raised_and_undone(database):
    tag = uuid.uuid4().hex[:8]

    def fails(conn):
        state.put_setting(conn, f"{tag}-undone", 1)
        raise ValueError("no")

    with pytest.raises(ValueError):
        database.write_grouped(fails)
    assert database.write_grouped(lambda conn: (state.put_setting(conn, f"{tag}-kept", 1), "kept")[1]) == "kept"
    assert _stored(database, [f"{tag}-undone", f"{tag}-kept"]) == {f"{tag}-kept"}


def test_postgres_writes_a_few_uploads_at_once_and_lets_the_others_in_by_arrival(pg_database):
    """Forty uploads at once all queued on the shared rows' locks and went next at random (db._FairGate)."""
    tag = uuid.uuid4().hex[:8]
    extra = 3
    lock = threading.Lock()
    inside: list[int] = []  # the writes inside their transaction now
    entered: list[int] = []  # in the order they got in
    most = 0
    release = {i: threading.Event() for i in range(UPLOADS_AT_ONCE + extra)}

    def fn(i, conn):
        nonlocal most
        with lock:
            inside.append(i)
            entered.append(i)
            most = max(most, len(inside))
        assert release[i].wait(QUEUE_TIMEOUT_S)
        state.put_setting(conn, f"{tag}-{i}", i)
        with lock:
            inside.remove(i)
        return i

    def start(i):
        t = threading.Thread(target=lambda: pg_database.write_grouped(lambda conn: fn(i, conn)))
        t.start()
        return t

    threads = [start(i) for i in range(UPLOADS_AT_ONCE)]
    wait.until(lambda: len(entered) == UPLOADS_AT_ONCE, QUEUE_TIMEOUT_S, "the first writes starting")
    for i in range(UPLOADS_AT_ONCE, UPLOADS_AT_ONCE + extra):  # one at a time, so their arrival order is known
        threads.append(start(i))
        wait.until(lambda queued=i - UPLOADS_AT_ONCE + 1: len(pg_database._uploads._queue) == queued,
                   QUEUE_TIMEOUT_S, "a write queueing")
    # The first ones started together and found places free, so their order among themselves is the scheduler's;
    # none of the later ones is inside.
    assert sorted(entered) == list(range(UPLOADS_AT_ONCE)), "the later ones wait outside"
    for n, i in enumerate(range(UPLOADS_AT_ONCE, UPLOADS_AT_ONCE + extra)):
        release[n].set()  # one write ends: the longest waiting one goes in, not any
        wait.until(lambda count=i + 1: len(entered) == count, QUEUE_TIMEOUT_S, "a waiting write going in")
        assert entered[-1] == i
    for event in release.values():
        event.set()
    for t in threads:
        t.join(QUEUE_TIMEOUT_S)
    assert most == UPLOADS_AT_ONCE and not inside
    assert len(_stored(pg_database, [f"{tag}-{i}" for i in release])) == len(release)


def test_failing_grouped_writes_leave_their_turn_to_the_next(database):
    """A write that raises gives its place back: more failures than places still let the next write in."""
    tag = uuid.uuid4().hex[:8]
    for _ in range(UPLOADS_AT_ONCE + 1):
        with pytest.raises(ValueError):
            database.write_grouped(lambda conn: (_ for _ in ()).throw(ValueError("no")))
    done: list[str] = []
    t = threading.Thread(target=lambda: done.append(
        database.write_grouped(lambda conn: (state.put_setting(conn, f"{tag}-next", 1), "next")[1])))
    t.start()
    t.join(QUEUE_TIMEOUT_S)
    assert done == ["next"]


def test_postgres_writes_apart_in_autocommit_without_waiting_for_the_wal_flush(pg_database):
    """Database.write_apart on PostgreSQL (a request's nonce, server/nonces.py): one statement, one round trip,
    committed without waiting for the disk; the ledger's own writes still wait for it."""
    def settings(conn):
        driver = conn.connection.driver_connection
        return driver.autocommit, conn.exec_driver_sql("SHOW synchronous_commit").scalar_one()

    assert pg_database.write_apart(settings) == (True, "off")
    assert pg_database.write(settings) == (False, "on")
    tag = f"apart-{uuid.uuid4().hex[:12]}"

    def two_statements(conn):  # each is its own transaction: the first stays when the second fails
        conn.exec_driver_sql("INSERT INTO settings (key, value) VALUES (%s, '1')", (tag,))
        conn.exec_driver_sql("INSERT INTO settings (key, value) VALUES (%s, '2')", (tag,))

    with pytest.raises(Exception, match="duplicate key"):
        pg_database.write_apart(two_statements)
    assert pg_database.read(lambda conn: conn.execute(
        select(s.settings.c.value).where(s.settings.c.key == tag)).scalar_one()) == "1"


def test_postgres_apart_path_opens_no_more_connections_than_its_pool(pg_database):
    """The connections a server needs stay countable (docs/operations.md): a burst of nonces waits for one of the
    apart pool's connections instead of opening more."""
    size = apart_pool_size(DEFAULT_POOL_SIZE)
    held = [pg_database.apart.connect() for _ in range(size)]
    got_one = threading.Event()

    def take() -> None:
        with pg_database.apart.connect():
            got_one.set()

    taker = threading.Thread(target=take, daemon=True)
    taker.start()
    try:
        assert not got_one.wait(0.5)  # every connection is held: it waits
        held.pop().close()
        assert got_one.wait(QUEUE_TIMEOUT_S)  # and gets the one given back
    finally:
        for conn in held:
            conn.close()
        taker.join(QUEUE_TIMEOUT_S)
