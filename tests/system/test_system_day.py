"""A day of the cooperative with faults: floreyn-server and three scripted tills as real processes.

Faults, all during one day:
- the bakery's till is killed with SIGKILL in the middle of its transactions, three times, and restarted
  (it resumes its script; committed sales are neither lost nor doubled);
- the handyman's wall clock jumps three days back half-way (records, the Z-report and every later start of
  its till live with the wrong clock; a restart with it must still be let in by the server);
- the server is killed with SIGKILL while the handyman's till uploads ~460 records (between two batches;
  the batch in flight is sent again) and restarted on the same port and database;
- the summer-market stall is offline from its morning sync until it syncs at the end of the day;
- every till's records are uploaded again, in other batches, mid-day and at the end;
- a card is blocked at the server mid-day: the bakery (after syncing, then with its network down) and the
  handyman refuse it; the offline stall cannot know and takes it.

At the end: every committed record is in the ledger exactly once; every posting balances (per transaction,
per currency, and the server's replay); each merchant's settlement equals its tills' Z-reports to the cent;
the blocked card was refused once its till had synced; no offline limit was exceeded.

Runs on SQLite, and on PostgreSQL too when FLOREYN_TEST_PG_URL is set (the shared db_url fixture).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
import os
import random
import sys
import threading
import time
from pathlib import Path

import day_scripts as D
import pytest
import system_checks as C
from system_helpers import SCRIPT_TIMEOUT_S, HERE, Admin, ServerProcess, Till, free_port

from floreyn import keys
from floreyn.server.state import TZ
from floreyn.sync.snapshot import snapshot_from_dict
from floreyn.sync.snapshot_pages import decode_card

KILLS = 5
PHASE_TIMEOUT_S = 90.0


class Day:
    def __init__(self, tmp: Path, db_url: str) -> None:
        self.tmp = tmp
        self.server = ServerProcess(tmp / "server", db_url)
        self.today = dt.datetime.now(TZ).date()
        self.marker = tmp / "klusser-clock-jumped"
        self.jump_env = {**os.environ, "FLOREYN_TEST_CLOCK_JUMP_S": str(D.JUMP_S),
                         "FLOREYN_TEST_CLOCK_JUMP_FILE": str(self.marker)}
        self.kill_at_head: int | None = None
        self.found_after_kill = 0
        self.errors: list[BaseException] = []

    def start(self) -> None:
        self.server.start()
        self.admin = Admin(self.server)
        D.set_up(self.admin, self.today)
        server_key = self.admin("GET", "/v1/health")["server_key"]
        self.server_key = keys.public_from_raw(bytes.fromhex(server_key))
        dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there: the network is down
        self.tills = {tid: Till(self.tmp, tid, D.MERCHANT_OF[tid], self.server, self.admin, server_key, dead)
                      for tid in (D.BAKKER, D.KLUSSER, D.KRAAM)}

    def klusser(self, name: str, actions: list, **kw):  # noqa: ANN201 - the handyman, always on its own clock
        launcher = [sys.executable, str(HERE / "clock_jump.py")]
        return self.tills[D.KLUSSER].spawn(name, actions, env=self.jump_env, launcher=launcher, **kw)

    def parallel(self, *jobs) -> None:  # noqa: ANN002 - callables; the first failure fails the test
        threads = [threading.Thread(target=self._guard, args=(job,), daemon=True) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(PHASE_TIMEOUT_S)
            assert not t.is_alive(), "a phase of the day did not end in time"
        if self.errors:
            raise self.errors[0]

    def _guard(self, job) -> None:  # noqa: ANN001
        try:
            job()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            self.errors.append(exc)

    # -- the faults ------------------------------------------------------------------------------------

    def bakery_with_kills(self, rng: random.Random) -> list[dict]:
        till, script = self.tills[D.BAKKER], D.bakker_day()
        committed: dict[str, int] = {}
        for _kill in range(KILLS):
            run = till.spawn("day", script)
            run.wait_for(lambda line: not line.get("resumed"))  # new work is under way: kill it in the middle
            time.sleep(rng.uniform(0.0, 0.04))
            run.kill()
            assert run.proc.returncode < 0, "killed, not finished: make the bakery's day longer"
            for line in run.lines:
                for rec in line.get("records", ()):
                    assert committed.setdefault(rec["record_id"], rec["seq"]) == rec["seq"]
        final = till.spawn("day", script)
        assert final.wait() == 0, [line for line in final.lines if not line.get("expect_ok", True)]
        assert len(final.lines) == len(script) and any(line.get("resumed") for line in final.lines)
        in_store = {r[0]: r[1] for r in till.store_rows("SELECT record_id, seq FROM records")}
        lost = {rid: seq for rid, seq in committed.items() if in_store.get(rid) != seq}
        assert not lost, f"records reported committed before a SIGKILL, then lost or moved: {lost}"
        # A kill between the commit and the output line: the rerun finds the action's reference and says so.
        self.found_after_kill = sum(1 for line in final.lines if line.get("existed") and not line.get("resumed"))
        return final.lines

    def handyman_with_clock_jump_and_server_kill(self) -> list[dict]:
        run = self.klusser("day", D.klusser_day())
        run.wait_for("jump-here")
        self.marker.touch()  # the script waits 0.5 s after this line: every later record has the jumped clock
        run.wait_for("pre-sync")
        total = int(self.tills[D.KLUSSER].store_rows("SELECT MAX(seq) FROM records")[0][0])
        deadline = time.monotonic() + 30
        while True:  # kill as soon as the first upload batch is in: the next one is on its way
            head = self.admin("GET", f"/v1/admin/terminals/{D.KLUSSER}")["head_seq"]
            if head > 0:
                self.server.kill()
                self.kill_at_head = head
                break
            assert time.monotonic() < deadline, "the handyman's sync never started"
            time.sleep(0.002)
        self.server.start()  # same port, same database
        assert run.wait() == 0
        assert 0 < self.kill_at_head < total, (self.kill_at_head, total)
        return run.lines

    # -- the phases of the day -------------------------------------------------------------------------

    def morning(self) -> None:
        """Every till signs in and syncs; then the stall goes to the market, without network."""
        out: dict[str, list[dict]] = {}
        self.parallel(lambda: out.update(b=self.tills[D.BAKKER].run("open", D.opening())),
                      lambda: out.update(k=_ok(self.klusser("open", D.opening()))),
                      lambda: out.update(m=self.tills[D.KRAAM].run("open", D.opening())))
        assert all(lines[1]["sync"]["online"] for lines in out.values()), out

    def daytime(self, seed: int) -> None:
        """All at once: SIGKILLs at the bakery, the clock jump and the server kill at the handyman, the stall
        offline. Then the tills catch up, and their records are sent once more."""
        out: dict[str, list[dict]] = {}
        self.parallel(lambda: out.update(bakker=self.bakery_with_kills(random.Random(seed))),
                      lambda: out.update(klusser=self.handyman_with_clock_jump_and_server_kill()),
                      lambda: out.update(kraam=self.tills[D.KRAAM].run("am", D.kraam_morning(), online=False)))
        big_sync = next(line for line in out["klusser"] if line["id"] == "big-sync")
        assert big_sync["sync"]["online"] is False, "the server died under the handyman's sync"
        self.tills[D.BAKKER].run("catch-up", D.opening())
        caught_up = _ok(self.klusser("catch-up", D.opening()))  # a fresh start on the jumped clock: let in
        assert caught_up[1]["sync"]["online"] and caught_up[2]["pending_uploads"] == 0, caught_up
        for till in (self.tills[D.BAKKER], self.tills[D.KLUSSER]):
            C.upload_again(till, self.server.url, self.server_key)

    def card_lost(self) -> dict[str, int]:
        """The card is blocked at the server; returns each till's last sequence number before that."""
        heads = {t: int(till.store_rows("SELECT MAX(seq) FROM records")[0][0]) for t, till in self.tills.items()}
        self.admin("POST", f"/v1/admin/cards/{D.card_hex(D.BLOCKED)}/block", {"reason": "verloren"})
        bakker, kraam, out = self.tills[D.BAKKER], self.tills[D.KRAAM], {}
        self.parallel(lambda: (bakker.run("block-sync", D.refused_after_sync(offline=False)),  # synced, then
                               out.update(b=bakker.run("block-down", D.refused_after_sync(offline=True),  # net down
                                                       online=False))),
                      lambda: _ok(self.klusser("block", D.refused_after_sync(offline=False))),
                      lambda: out.update(m=kraam.run("pm", D.kraam_afternoon(), online=False)))
        net_down = {line["id"]: line for line in out["b"]}["net-down"]
        assert net_down["ok"] and net_down["offline"], net_down
        assert {line["id"]: line for line in out["m"]}["blok-pm"]["ok"], "offline, the stall cannot know"
        return heads

    def evening(self) -> None:
        """Day close everywhere; the stall syncs its whole day; every record is sent once more."""
        kraam, out = self.tills[D.KRAAM], {}
        self.parallel(lambda: out.update(b=self.tills[D.BAKKER].run("close", D.closing())),
                      lambda: out.update(k=_ok(self.klusser("close", D.closing()))),
                      lambda: (kraam.run("close", D.closing()[:2], online=False),
                               out.update(m=kraam.run("evening", D.opening()))))
        for lines in out.values():
            assert lines[-2]["sync"]["online"] and lines[-1]["pending_uploads"] == 0, lines[-2:]
        sent = sum(C.upload_again(t, self.server.url, self.server_key) for t in self.tills.values())
        assert sent == sum(len(C.records(t)) for t in self.tills.values())


@pytest.mark.slow
def test_a_day_with_faults(db_url, tmp_path):
    seed = int(os.environ.get("FLOREYN_SYSTEM_SEED", "20260801"))
    day = Day(tmp_path, db_url)
    try:
        day.start()
        day.morning()
        day.daytime(seed)
        heads = day.card_lost()
        (data,), = day.tills[D.KRAAM].store_rows("SELECT data FROM snapshot")  # the morning's, before it syncs
        entries = day.tills[D.KRAAM].store_rows("SELECT entry FROM snapshot_cards ORDER BY card_id")  # its cards
        morning = replace(snapshot_from_dict(json.loads(bytes(data))),
                          cards=tuple(decode_card(bytes(e)) for (e,) in entries))
        day.evening()

        totals = C.check_ledger(db_url, day.tills.values(), day.admin)
        recs = {t: C.records(day.tills[t]) for t in day.tills}
        for t, rs in recs.items():
            C.check_chain(day.tills[t], rs)
            C.check_one_tx_per_action(day.tills[t], rs)
        period = ((day.today - dt.timedelta(days=1)).isoformat(), (day.today + dt.timedelta(days=1)).isoformat())
        C.check_settlements(day.admin, {D.MERCHANT_OF[t]: [day.tills[t]] for t in day.tills}, period)
        blocked = D.card_hex(D.BLOCKED)
        for t in (D.BAKKER, D.KLUSSER):  # refused once synced (the scripts expect it): nothing after the block
            assert not [r for r in recs[t] if r["card_hex"] == blocked and r["seq"] > heads[t]], t
        assert any(r["card_hex"] == blocked and r["seq"] > heads[D.KRAAM] for r in recs[D.KRAAM])
        offline = C.check_offline_all_day(recs[D.KRAAM], morning)
        taps = sum(C.check_per_tap(rs, morning.limits) for rs in recs.values())
        overspend = day.admin("GET", "/v1/admin/reports/overspend")
        assert not {k: v for k, v in overspend.items() if v}, overspend  # nothing over, blocked, disputed or broken
        walls = [r["wall_ms"] for r in recs[D.KLUSSER]]
        assert min(b - a for a, b in zip(walls, walls[1:], strict=False)) < D.JUMP_S * 1000 // 2, "the clock jump happened"
        print(f"seed {seed}: {totals}, server killed at head {day.kill_at_head}, "
              f"{day.found_after_kill} bakery actions found committed after a kill, {taps} offline taps, "
              f"stall offline {offline}")
    finally:
        for till in getattr(day, "tills", {}).values():
            till.kill_all()  # a till still running after a failure
        day.server.stop()


def _ok(run) -> list[dict]:  # noqa: ANN001 - a ScriptRun
    code = run.wait(SCRIPT_TIMEOUT_S)
    assert code == 0, [line for line in run.lines if not line.get("expect_ok", True)]
    return run.lines
