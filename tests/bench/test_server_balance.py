"""bench/server_balance.py's reads under load: the tills' uploads really run while the reads are timed.

On 2026-12-07 the load process died at once (a changed call), the reads went on to their count, and the
"under upload load" figures were those of a quiet server. Now a dead load is an error, and this test checks
that the uploads reach the server while the reads are timed, each read with its floors (SQLite; no timing is
checked).
"""

from __future__ import annotations

import os

import pytest
import requests
from sqlalchemy import text

from floreyn import keys
from floreyn.server import admin_business
from floreyn.server.db import Database
from floreyn.sync.client import SyncClient


@pytest.fixture
def balance_bench(import_bench):
    return import_bench("server_balance", "common", "goals")


def test_reads_under_load_are_timed_while_the_tills_upload(balance_bench, tmp_path):
    sb = balance_bench
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    db = Database(url)
    db.migrate()
    merchants = ["M-00"]
    cards = sb.si.setup(db, 20, merchants)
    reader_key = keys.new_private_key()
    db.write(lambda conn: admin_business.enroll_terminal(conn, "T-reader", merchants[0],
                                                         keys.public_raw(reader_key).hex(), sb.si.NOW))
    # 16,000 records: some 3 s of uploads on an idle 2-core machine, well past the 1.5 s before reads start
    dataset = sb.si.make_records(8, 2_000, cards, merchants, seed=1, prefix="BT")
    sb.si.enroll(db, dataset)
    (tmp_path / "server").mkdir()
    server, bare = sb.hi.Server(url, tmp_path / "server", 1), sb.BareAsgi(tmp_path)
    try:
        reader = SyncClient(server.base_url, "T-reader", reader_key, server_key=None, timeout_s=sb.TILL_TIMEOUT_S)
        side = sb.ReadSide(db, reader, bare.url)
        result = sb.measure_round(side, server.base_url, cards, dataset, reads=1_000_000)
        reader.session.close()
    finally:
        server.stop()
        bare.stop()
    held = db.read(lambda conn: conn.execute(text("SELECT COUNT(*) FROM records")).scalar_one())
    db.dispose()
    assert held == 8 * 2_000  # every upload of the load arrived
    assert 0 < result["reads"] < 1_000_000  # timed while the uploads ran, and stopped when they ended
    assert 0 < result["bare_p50"] <= result["bare_p99"]  # the bare ASGI floor was timed beside each read


def test_the_uploads_process_runs_at_the_priority_the_unit_gives_it(balance_bench, tmp_path):
    sb = balance_bench
    nice = sb.uploads_nice()
    assert nice > 0  # the deployment's point: a card tap goes before an upload
    url = f"sqlite:///{tmp_path / 'bench.db'}"
    Database(url).migrate()
    server = sb.hi.Server(url, tmp_path, 1, nice=nice)
    try:  # `nice -n` adds to the caller's niceness; the kernel caps it at 19
        assert os.getpriority(os.PRIO_PROCESS, server.proc.pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + nice)
    finally:
        server.stop()


def test_the_bare_asgi_floor_answers_over_http_and_stops(balance_bench, tmp_path):
    bare = balance_bench.BareAsgi(tmp_path)
    try:
        answer = requests.get(bare.url, timeout=5)
        assert (answer.status_code, answer.json()) == (200, {"ok": True})
    finally:
        bare.stop()
    assert bare.proc.returncode is not None
