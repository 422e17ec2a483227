"""`floreyn-server backup` and `restore`: round trips within and across backends, refusals, SIGKILL mid-restore.

The backup is taken while the server runs and writes; what comes back is
exactly the backup's content (compared row by row with the file itself), the
ledger replays clean, and a refused or killed restore leaves the database as
it was.
"""

from __future__ import annotations


import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select, text
from sqlalchemy.engine import make_url

from floreyn.server.db import head_revision
from floreyn import keys
from floreyn.server import backup, restore
from floreyn.server.backup import BackupInvalid, read_manifest
from floreyn.server.config import KEY_FILE
from floreyn.server.db import Database
from floreyn.server.replay import replay
from floreyn.server.testing import ServerThread, World

# Columns a restore changes on purpose (module docstring of server/restore.py).
MARKED = {("cards", "changed_version"), ("meta", "value")}


def populate(srv: ServerThread, sales: int = 6) -> dict[str, object]:
    world = World(srv)
    merchant = world.merchant()
    member, card = world.member(eur_cents=5_000, alias="Jansen")
    funder = world.funder(eur_cents=10_000)
    srv.admin("POST", "/v1/admin/budgets/grant", {"funder_id": funder, "budgets": [
        {"budget_id": world.new_id("B"), "member_id": member, "label": "Klus", "categories": [],
         "expires_on": "2099-01-01", "amount_cents": 1_000}]})
    term = world.terminal(merchant)
    for i in range(sales):
        term.spend(card, 100 + i)
    term.save(card, 50, 1_000)
    term.client(srv).upload(term.raws)
    srv.admin("POST", f"/v1/admin/cards/{card}/block", {"reason": "kwijt"})
    return {"member": member, "card": card, "terminal": term, "world": world}


def rows_of(url: str) -> dict[str, list[tuple]]:
    """Every row of every table, normalised (bools as ints, bytes as hex), sorted."""
    if url.startswith("sqlite") or url.endswith(backup.SUFFIX):
        path = make_url(url).database if url.startswith("sqlite") else url
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' "
                                                "AND name NOT LIKE 'sqlite_%'")]
            out = {}
            for n in names:
                cols = [r[1] for r in conn.execute(f'PRAGMA table_info("{n}")')]
                out[n] = (cols, [tuple(r) for r in conn.execute(f'SELECT * FROM "{n}"')])
        finally:
            conn.close()
    else:
        db = Database(url)
        md = MetaData()
        md.reflect(db.writer)
        with db.reader.connect() as conn:
            out = {t.name: ([c.name for c in t.columns], [tuple(r) for r in conn.execute(select(t))])
                   for t in md.sorted_tables}
        db.dispose()
    norm = {}
    for name, (cols, rows) in out.items():
        keep = [i for i, c in enumerate(cols) if (name, c) not in MARKED]
        norm[name] = sorted(tuple(_v(r[i]) for i in keep) for r in rows)
    return norm


def _v(value: object) -> object:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (bytes, memoryview)):
        return bytes(value).hex()
    return value


def test_round_trip_while_the_server_writes_then_restore_in_both_backends(db_url, other_db_url, tmp_path):
    with ServerThread(db_url, tmp_path / "data") as srv:
        facts = populate(srv)
        world: World = facts["world"]  # type: ignore[assignment]
        balance = world.balance(f"member:{facts['member']}")
        stop = threading.Event()

        def keep_writing() -> None:  # the desk goes on during the backup
            while not stop.is_set():
                world.member(eur_cents=100)

        writer = threading.Thread(target=keep_writing)
        writer.start()
        try:
            time.sleep(0.2)
            made = backup.backup(srv.ctx.db, tmp_path / "backups", server_public_key=srv.ctx.public_hex)
        finally:
            stop.set()
            writer.join()
        world.member(eur_cents=700)  # after the backup: must not come back
    assert made.path.parent == tmp_path / "backups" and made.path.name.endswith(backup.SUFFIX)
    assert oct(made.path.stat().st_mode & 0o777) == "0o600" and made.sha256 == backup.sha256_file(made.path)
    manifest = read_manifest(made.path)
    assert manifest.revision == head_revision() and manifest.server_public_key == srv.ctx.public_hex
    assert manifest.terminal_heads == {facts["terminal"].terminal_id: 7}  # type: ignore[union-attr]
    in_backup = rows_of(str(made.path))
    in_backup.pop(backup.MANIFEST)
    assert in_backup["members"] and len(in_backup["postings"]) == manifest.row_counts["postings"]

    targets = [other_db_url, f"sqlite:///{tmp_path / 'restored' / 'floreyn.db'}"]
    for target in targets:
        report = restore.restore(made.path, target)
        assert report.backup_revision == head_revision() and report.revision == head_revision() and report.kept_old is None
        restored = rows_of(target)
        alerts = restored.pop("alerts")
        assert [a for a in alerts if a[2] == "restored"] and len(alerts) == len(in_backup["alerts"]) + 1
        assert restored == {k: v for k, v in in_backup.items() if k != "alerts"}, target
        db = Database(target)
        try:
            assert replay(db).ok
            if not db.is_sqlite:  # the planner has statistics at once, autovacuum or not
                analysed = db.read(lambda conn: conn.execute(text(
                    "SELECT last_analyze IS NOT NULL FROM pg_stat_user_tables WHERE relname = 'postings'")).scalar())
                assert analysed
        finally:
            db.dispose()
        with ServerThread(target, tmp_path / "data") as again:  # the same key: the terminals trust it
            w = World(again)
            assert w.balance(f"member:{facts['member']}") == balance
            card = again.admin("GET", f"/v1/admin/cards/{facts['card']}")
            assert card["status"] == "blocked"
            assert w.terminal() is not None  # writable: ids continue past the restored ones
            w.member(eur_cents=100)


def test_refusals_change_nothing(db_url, tmp_path):
    with ServerThread(db_url, tmp_path / "data") as srv:
        populate(srv, sales=2)
        made = backup.backup(srv.ctx.db, tmp_path / "b.floreyn-backup", server_public_key=None)
        before = rows_of(db_url)
        with pytest.raises(restore.RestoreTargetNotEmpty) as refused:
            restore.restore(made.path, db_url)  # a restore never merges
        assert "--replace" in refused.value.message("nl")
        if db_url.startswith("postgresql"):
            with pytest.raises(restore.ServerRunning):  # the running server's connections are seen
                restore.restore(made.path, db_url, replace=True)
    assert rows_of(db_url) == before
    with pytest.raises(backup.BackupError) as none:
        backup.backup(Database(f"sqlite:///{tmp_path / 'none.db'}"), tmp_path / "x.floreyn-backup",
                      server_public_key=None)
    assert "none.db" in none.value.message("nl")
    assert not (tmp_path / "x.floreyn-backup").exists() and not list(tmp_path.glob("*.partial"))

    damaged = tmp_path / "damaged.floreyn-backup"
    shutil.copy(made.path, damaged)
    with sqlite3.connect(damaged) as conn:  # one posting less than the manifest says
        conn.execute("DROP TRIGGER IF EXISTS postings_no_delete")
        conn.execute("DELETE FROM postings WHERE id = (SELECT max(id) FROM postings)")
    with pytest.raises(BackupInvalid) as bad:
        restore.restore(damaged, f"sqlite:///{tmp_path / 'new.db'}")
    assert "postings" in bad.value.message("en")
    truncated = tmp_path / "truncated.floreyn-backup"
    truncated.write_bytes(made.path.read_bytes()[: made.size_bytes // 2])
    with pytest.raises(BackupInvalid):
        restore.restore(truncated, f"sqlite:///{tmp_path / 'new.db'}")
    newer = tmp_path / "newer.floreyn-backup"
    shutil.copy(made.path, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE floreyn_backup SET value = '\"9999\"' WHERE key = 'revision'")
    with pytest.raises(restore.BackupTooNew):
        restore.restore(newer, f"sqlite:///{tmp_path / 'new.db'}")
    assert not (tmp_path / "new.db").exists() and rows_of(db_url) == before


def test_sqlite_restore_refuses_while_a_server_process_runs_and_keeps_the_old_file(tmp_path, exe, free_port):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'floreyn.db'}"
    with ServerThread(url, data) as srv:
        populate(srv, sales=1)
        made = backup.backup(srv.ctx.db, tmp_path / "b.floreyn-backup", server_public_key=srv.ctx.public_hex)
    proc = subprocess.Popen([exe / "floreyn-server", "--data-dir", str(data), "--port", str(free_port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_health(free_port, proc)
        with pytest.raises(restore.ServerRunning):
            restore.restore(made.path, url, replace=True)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    old = rows_of(url)
    report = restore.restore(made.path, url, replace=True)
    assert report.kept_old and rows_of(f"sqlite:///{report.kept_old}") == old


def test_cli_backup_keep_and_restore_checks_the_server_key(tmp_path, exe):
    data = tmp_path / "data"
    with ServerThread(f"sqlite:///{data / 'floreyn.db'}", data) as srv:
        populate(srv, sales=1)
        public = srv.ctx.public_hex
    for _ in range(3):
        out = subprocess.run([exe / "floreyn-server", "--data-dir", str(data), "backup", "--keep", "2"],
                             capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        time.sleep(0.01)
    info = json.loads(out.stdout)
    assert info["server_public_key"] == public and len(info["pruned"]) == 1
    kept = sorted((data / "backups").glob("*" + backup.SUFFIX))
    assert len(kept) == 2 and Path(info["path"]) == kept[-1]
    with sqlite3.connect(data / "floreyn.db") as conn:
        assert conn.execute("SELECT count(*) FROM backups").fetchone()[0] == 3

    elsewhere = tmp_path / "new-machine"  # no key there yet
    cmd = [exe / "floreyn-server", "--data-dir", str(elsewhere), "restore", info["path"]]
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "server_key_missing" in refused.stderr and public in refused.stderr
    assert not (elsewhere / "floreyn.db").exists()
    elsewhere.mkdir()
    keys.save_private_key(keys.new_private_key(), elsewhere / KEY_FILE)
    refused = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "server_key_mismatch" in refused.stderr
    shutil.copy(data / KEY_FILE, elsewhere / KEY_FILE)  # the key saved apart, put back
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["replay_ok"] is True


def test_sigkill_during_restore_leaves_the_old_or_the_new_database(tmp_path, exe):
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'floreyn.db'}"
    with ServerThread(url, data) as srv:
        populate(srv, sales=450)
        made = backup.backup(srv.ctx.db, tmp_path / "b.floreyn-backup", server_public_key=srv.ctx.public_hex)
        World(srv).member(eur_cents=100)  # the live database differs from the backup
    old, new = rows_of(url), rows_of(str(made.path))
    new.pop(backup.MANIFEST)
    cmd = [exe / "floreyn-server", "--data-dir", str(data), "restore", "--replace", str(made.path)]
    started = time.monotonic()  # one whole run first, on a copy, to know how long one takes here
    probe = tmp_path / "probe"
    probe.mkdir()
    shutil.copy(data / KEY_FILE, probe / KEY_FILE)
    subprocess.run([*cmd[:2], str(probe), *cmd[3:]], check=True, capture_output=True, timeout=60)
    whole_s = time.monotonic() - started
    pristine = tmp_path / "pristine.db"
    with sqlite3.connect(data / "floreyn.db") as conn:
        conn.execute("VACUUM INTO ?", (str(pristine),))
    rng = random.Random(9)
    outcomes = set()
    for _attempt in range(5):
        for p in data.glob("floreyn.db*"):
            if not p.name.endswith("-serverlock"):
                p.unlink()
        shutil.copy(pristine, data / "floreyn.db")  # every attempt starts from the old database
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole_s * rng.uniform(0.5, 1.0))  # the first half is the interpreter starting
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        now = rows_of(url)
        alerts = now.pop("alerts")
        if len(alerts) == len(old["alerts"]):  # untouched
            assert {**now, "alerts": alerts} == old
            outcomes.add("old")
        else:
            assert now == {k: v for k, v in new.items() if k != "alerts"}
            outcomes.add("new")
        for p in data.glob("floreyn.db.before-restore-*"):  # the kept copy is always the whole old file
            assert rows_of(f"sqlite:///{p}")
    # What the last killed attempt left is the old or the new database (which one is timing); the
    # final restore must keep exactly that, whole, and each copy a killed attempt kept is the old file.
    left = rows_of(url)
    kept_by_attempts = {p: rows_of(f"sqlite:///{p}") for p in data.glob("floreyn.db.before-restore-*")}
    done = subprocess.run([exe / "floreyn-server", "--data-dir", str(data), "restore", "--replace", str(made.path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr  # a killed restore's leftovers do not stand in the way
    assert not list(data.glob("*.restoring*"))
    assert not list(data.glob("*.partial"))
    kept = Path(json.loads(done.stdout)["kept_old"])
    assert rows_of(f"sqlite:///{kept}") == left
    assert all(rows == old for p, rows in kept_by_attempts.items() if p != kept)
    assert outcomes  # at least one kill landed (which side is timing)


def _wait_health(port: int, proc: subprocess.Popen) -> None:
    import requests

    deadline = time.monotonic() + 120  # the server's start-up: seconds, but over 30 s on a loaded machine
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the server exited"
        try:
            if requests.get(f"http://127.0.0.1:{port}/v1/health", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise AssertionError("the server did not come up")


def test_sigkill_during_backup_leaves_no_backup_or_a_whole_one(tmp_path, exe):
    data = tmp_path / "data"
    with ServerThread(f"sqlite:///{data / 'floreyn.db'}", data) as srv:
        populate(srv, sales=450)
    out = tmp_path / "backups"
    cmd = [exe / "floreyn-server", "--data-dir", str(data), "backup", "--to", str(out)]
    started = time.monotonic()
    subprocess.run(cmd, check=True, capture_output=True, timeout=60)
    whole_s = time.monotonic() - started
    rng = random.Random(11)
    for _ in range(4):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(whole_s * rng.uniform(0.5, 1.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
    finished = sorted(out.glob("*" + backup.SUFFIX))
    assert finished  # the first, whole run at least
    for path in finished:  # whatever carries the final name is a whole, checked backup
        assert read_manifest(path).row_counts["records"] == 451
    for partial in out.glob("*.partial"):  # a killed one's leftovers: removed by --keep once stale
        os.utime(partial, (time.time() - backup.STALE_PARTIAL_S - 60,) * 2)
    backup.prune_backups(out, keep=100)
    assert not list(out.glob("*.partial"))
