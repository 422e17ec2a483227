"""SIGKILL the scripted till at random points, 50+ times: nothing committed is lost or doubled.

A child process runs a long stream of transactions (the real CLI, the real
store on disk). The parent kills it with SIGKILL at a random moment after it
has made progress, restarts it on the same data folder, and repeats. Then a
last run finishes the script, and the result must equal a run that was never
interrupted: the same outcome and the same sequence numbers for every action,
a gapless chain that verifies, every record ever reported committed still
there, and every receipt printed (pending ones resume after a restart).

FLOREYN_CRASH_SEED picks the kill timings (printed on failure to reproduce).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from floreyn import keys
from floreyn.sync.record import decode, verify_chain

KILLS = 52
CARDS = ("anna", "fenna", "bram", "dirk")


def stream(n: int) -> list[dict]:
    """Saves, top-ups, spends (some refused by the offline limits: also a deterministic outcome), voids,
    refunds and a day close; repeat_ok everywhere so that timing cannot change an outcome."""
    acts: list[dict] = [{"id": "in", "action": "sign_in", "pin": "9999"}]
    for i in range(n):
        if i % 3 == 0:
            acts.append({"id": f"p{i}", "action": "present", "card": CARDS[(i // 3) % len(CARDS)]})
        kind = i % 8
        if kind in (0, 3):
            acts.append({"id": f"s{i}", "action": "save", "amount_cents": 1_000 + i, "repeat_ok": True})
        elif kind in (1, 6):
            acts.append({"id": f"t{i}", "action": "topup", "amount_cents": 500 + i, "repeat_ok": True})
        elif kind == 2:
            acts.append({"id": f"x{i}", "action": "spend", "amount_cents": 150 + i % 7, "tender": "cash",
                         "repeat_ok": True})
        elif kind == 4:
            acts.append({"id": f"v{i}", "action": "void"})
        elif kind == 5 and i > 8:
            acts.append({"id": f"r{i}", "action": "refund", "tx": f"@x{i - 3}", "amount_cents": 50})
        else:
            acts.append({"id": f"s{i}", "action": "save", "amount_cents": 2_000, "repeat_ok": True})
        if i == n // 2:
            acts.append({"id": "close", "action": "day_close", "manager_pin": "9999"})
    return acts


def cli(script: Path, data: Path) -> list[str]:
    return [sys.executable, "-m", "floreyn.terminal.cli", "--simulate", "--script", str(script), "--data-dir",
            str(data)]


def parse(text: str) -> list[dict]:
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the line being written when the process died
            pass
    return out


def outcome(line: dict) -> tuple:
    return (line["id"], line["ok"], line.get("error"), line.get("kind"), line.get("fl_cents"),
            line.get("eur_cents"), tuple(line.get("seqs", ())))


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_doubles_nothing(tmp_path):
    seed = int(os.environ.get("FLOREYN_CRASH_SEED", "20260725"))
    rng = random.Random(seed)
    script = tmp_path / "stream.jsonl"
    # Each run lives 0-30 ms past its first new line: at most ~600 actions in all the killed runs together.
    script.write_text("\n".join(json.dumps(a) for a in stream(1_200)) + "\n")

    reference = subprocess.run(cli(script, tmp_path / "reference"), capture_output=True, text=True, timeout=300)
    assert reference.returncode == 0, reference.stderr
    expected = [outcome(line) for line in parse(reference.stdout)]

    data = tmp_path / "crashing"
    committed: dict[str, int] = {}  # record id -> seq, as reported by runs that were then killed
    kills = resumed_receipts = 0
    while kills < KILLS:
        child = subprocess.Popen(cli(script, data), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert child.stdout is not None
        lines = []
        while True:  # wait until this run does new work, then kill it at a random moment
            raw = child.stdout.readline()
            if not raw:
                break
            lines.append(raw)
            if '"resumed": true' not in raw:
                break
        if child.poll() is not None or not lines:
            child.wait()
            break  # the script finished before the kill: see the assert below
        time.sleep(rng.uniform(0.0, 0.03))
        child.send_signal(signal.SIGKILL)
        rest = child.stdout.read()
        started = parse(child.stderr.read())  # one line: what engine.start() did on this restart
        resumed_receipts += sum(line.get("started", {}).get("receipts_resumed", 0) for line in started)
        child.wait()
        if child.returncode == 0:
            break  # it finished just before the signal: see the assert below
        assert child.returncode == -signal.SIGKILL
        kills += 1
        for line in parse("".join(lines) + rest):
            for rec in line.get("records", ()):
                assert committed.setdefault(rec["record_id"], rec["seq"]) == rec["seq"], f"seed {seed}"
    assert kills == KILLS, f"the script ended after {kills} kills (seed {seed}): make it longer"

    progress = sum(len(p.read_text().splitlines()) for p in (data / "scripts").iterdir())
    final = subprocess.run(cli(script, data), capture_output=True, text=True, timeout=300)
    assert final.returncode == 0, final.stderr
    got = [outcome(line) for line in parse(final.stdout)]
    assert got == expected, f"seed {seed}: an interrupted run must end exactly like an uninterrupted one"

    con = sqlite3.connect(str(data / "terminal.db"))
    rows = con.execute("SELECT seq, record_id, tx_id, raw, receipt_status FROM records ORDER BY seq").fetchall()
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1)), "sequence numbers are gapless"
    assert len(seqs) == max(s for line in expected for s in line[6])
    by_id = {r[1]: r[0] for r in rows}
    lost = {rid: seq for rid, seq in committed.items() if by_id.get(rid) != seq}
    assert not lost, f"seed {seed}: records reported committed and then lost or moved: {lost}"
    public = keys.load_private_key(data / "terminal.key").public_key()
    assert verify_chain([decode(r[3]) for r in rows], public).seq == len(rows)
    assert {r[4] for r in rows} == {"printed"}, "pending receipts resumed printing"
    txs = {r[2] for r in rows}
    refs = con.execute("SELECT COUNT(*), COUNT(DISTINCT tx_id) FROM client_refs").fetchone()
    assert refs == (len(txs), len(txs)), "each transaction belongs to exactly one script action"
    kinds = dict(con.execute("SELECT tx_id, MIN(seq) || '-' || kind FROM records GROUP BY tx_id").fetchall())
    files = {p.name for p in (data / "receipts").iterdir()}
    closes = len([tx for tx, k in kinds.items() if k.endswith("-6")])
    missing = [tx for tx, k in kinds.items() if not k.endswith("-6")
               and not any(f.startswith(f"{int(k.split('-')[0]):06d}-") for f in files)]
    assert not missing and len([f for f in files if f.startswith("z-day-")]) == closes, "a receipt for every one"
    con.close()
    print(f"seed {seed}: {kills} kills over {progress} of {len(expected)} actions, "
          f"{resumed_receipts} receipts resumed after a kill")
