"""The scripted till as a real process: JSON lines out, typed refusals, resumable on the same data folder."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

DEMO = [
    {"id": "in", "action": "sign_in", "pin": "1234"},
    {"id": "anna", "action": "present", "card": "anna"},
    {"id": "pay", "action": "spend", "amount": "20,00"},
    {"id": "save", "action": "save", "amount": "24,50", "repeat_ok": True},
    {"id": "bram", "action": "present", "card": "bram"},
    {"id": "mixed?", "action": "spend", "amount": "8,00", "expect": "tender_required"},
    {"id": "mixed", "action": "spend", "amount": "8,00", "tender": "pin"},
    {"id": "cees", "action": "present", "card": "cees", "expect": "card_blocked"},
    {"id": "fake", "action": "present", "card": "anna", "tamper": True, "expect": "card_tampered"},
    {"id": "dirk", "action": "present", "card": "dirk"},
    {"id": "dirk-pay", "action": "spend", "amount": "1,00", "expect": "card_unknown_offline"},
    {"id": "zero", "action": "topup", "amount": "0", "expect": "amount_zero"},
    {"id": "top", "action": "topup", "amount": "10"},
    {"id": "refund-no", "action": "refund", "tx": "@pay", "expect": "manager_required"},
    {"id": "refund", "action": "refund", "tx": "@pay", "amount": "5,00", "manager_pin": "9999"},
    {"id": "paper", "action": "printer", "fail": "paper_out"},
    {"id": "void", "action": "void", "manager_pin": "9999"},
    {"id": "fixed", "action": "printer", "fail": None},
    {"id": "retry", "action": "retry_receipts"},
    {"id": "again", "action": "reprint", "tx": "@mixed"},
    {"id": "sync", "action": "sync", "expect": "online_unavailable"},
    {"id": "close-no", "action": "day_close", "expect": "manager_required"},  # the engine asks, not only the app
    {"id": "close", "action": "day_close", "manager_pin": "9999"},
    {"id": "status", "action": "status"},
]


def run(script: Path, data: Path, *extra: str) -> tuple[int, list[dict], str]:
    proc = subprocess.run([sys.executable, "-m", "floreyn.terminal.cli", "--simulate", "--script", str(script),
                           "--data-dir", str(data), *extra], capture_output=True, text=True, timeout=120)
    return proc.returncode, [json.loads(line) for line in proc.stdout.splitlines()], proc.stderr


def write(tmp_path: Path, actions: list[dict], name: str = "script.jsonl") -> Path:
    path = tmp_path / name
    path.write_text("# demo\n" + "\n".join(json.dumps(a) for a in actions) + "\n", encoding="utf-8")
    return path


def test_demo_script_end_to_end_and_resume(tmp_path):
    script, data = write(tmp_path, DEMO), tmp_path / "data"
    rc, out, err = run(script, data)
    assert rc == 0, err
    by = {line["id"]: line for line in out}
    assert [line["id"] for line in out] == [a["id"] for a in DEMO]  # one line per action, in order
    assert all(line.get("expect_ok", True) for line in out)
    assert by["anna"]["alias"] == "Anna" and by["anna"]["live"] is False
    portaal = next(b for b in by["anna"]["budgets"] if not b["usable"])  # a code, and the Dutch text beside it
    assert portaal["why_not"] == "budget_wrong_category" and "alleen voor" in portaal["why_not_nl"]
    assert (by["anna"]["offline_taps_left"], by["anna"]["near_offline_limits"]) == (5, False)
    assert by["dirk"]["offline_note"] == "card_unknown_offline"
    assert "alleen met verbinding" in by["dirk"]["offline_note_nl"]
    assert by["pay"]["fl_cents"] == 2_000 and [r["budget_id"] for r in by["pay"]["records"]] == [
        "B-gemeente-boodschap-1", None]
    assert by["mixed?"]["message_nl"].startswith("Het saldo dekt fl 5,00")
    assert by["mixed"]["records"][0]["tender"] == "BANK_CARD" and by["mixed"]["eur_cents"] == 300
    assert by["refund"]["kind_nl"] == "Terugbetaling" and by["refund"]["fl_cents"] == 500
    assert by["void"]["receipt"] == "failed" and by["void"]["receipt_error"]["error"] == "printer_paper_out"
    assert by["retry"]["printed"] == 1 and by["again"]["receipt"] == "printed"
    assert by["close"]["report"]["day_no"] == 1 and by["status"]["day_no"] == 2
    receipts = sorted(p.name for p in (data / "receipts").iterdir())
    assert "z-day-0001.txt" in receipts and any(n.endswith("-spend.txt") for n in receipts)
    assert "DUPLICAAT" in next(p for p in (data / "receipts").iterdir()
                               if p.name.startswith(f"{by['mixed']['seqs'][0]:06d}")).read_text()

    con = sqlite3.connect(str(data / "terminal.db"))
    count = con.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    rc2, out2, _ = run(script, data)  # the same script again: a resume, nothing new
    assert rc2 == 0
    assert [{k: v for k, v in line.items() if k != "resumed"} for line in out2] == out
    assert all(line["resumed"] for line in out2)
    assert con.execute("SELECT COUNT(*) FROM records").fetchone()[0] == count
    progress = next((data / "scripts").iterdir())
    lines = progress.read_text().splitlines()
    progress.write_text("\n".join(lines[:6]) + "\n")  # as if killed after the 6th action
    rc2b, out2b, _ = run(script, data)
    assert rc2b == 0 and [line.get("resumed", False) for line in out2b] == [True] * 6 + [False] * (len(DEMO) - 6)
    by2 = {line["id"]: line for line in out2b}
    for money in ("mixed", "top", "refund", "void", "close"):  # already committed: found by their reference
        assert by2[money]["existed"] is True and by2[money]["tx_id"] == by[money]["tx_id"], money
    assert con.execute("SELECT COUNT(*) FROM records").fetchone()[0] == count

    rc3, out3, _ = run(script, data, "--run-id", "second-run")  # a new run id: new transactions
    assert rc3 == 1  # the day was closed and anna's limits are used: some expectations no longer hold
    assert {line["id"]: line for line in out3}["save"]["existed"] is False
    con.close()


def test_void_by_a_cashier_needs_a_manager_pin(tmp_path):
    script = write(tmp_path, [
        {"action": "sign_in", "pin": "1234"},
        {"action": "present", "card": "anna"},
        {"id": "pay", "action": "spend", "amount": "3,00"},
        {"id": "no-pin", "action": "void", "expect": "manager_required"},
        {"id": "own-pin", "action": "void", "manager_pin": "1234", "expect": "manager_required"},
        {"id": "wrong", "action": "void", "manager_pin": "5555", "expect": "pin_wrong"},
        {"id": "void", "action": "void", "manager_pin": "9999"},
    ])
    rc, out, err = run(script, tmp_path / "data")
    assert rc == 0, err
    by = {line.get("id"): line for line in out}
    assert by["no-pin"]["ok"] is False and by["no-pin"]["message_nl"].startswith("Hiervoor is de pincode")
    assert by["void"]["kind"] == "VOID" and by["void"]["fl_cents"] == 300
    assert by["void"]["quote"]["needs_manager"] is True
    con = sqlite3.connect(str(tmp_path / "data" / "terminal.db"))
    assert con.execute("SELECT COUNT(*) FROM records").fetchone()[0] == 2  # the sale and one void
    con.close()


def test_a_block_budget_payment_takes_the_second_tenants_card_named_in_the_script(tmp_path):
    script = write(tmp_path, [
        {"action": "sign_in", "pin": "1234"},
        {"action": "present", "card": "gijs"},
        {"id": "alone", "action": "spend", "amount": "20,00", "source": "B-portaal-blok-7",
         "expect": "second_card_needed"},
        {"id": "same", "action": "spend", "amount": "20,00", "source": "B-portaal-blok-7", "confirm_card": "gijs",
         "expect": "second_card_refused"},
        {"id": "pay", "action": "spend", "amount": "20,00", "source": "B-portaal-blok-7", "confirm_card": "hanna",
         "repeat_ok": True},
    ])
    rc, out, err = run(script, tmp_path / "data")
    assert rc == 0, err
    by = {line.get("id"): line for line in out}
    assert by["alone"]["message_nl"].startswith("Tweede bewoner: houd uw pas bij de lezer")
    assert by["same"]["message_nl"].startswith("Dit is dezelfde pas als die van de betaler.")
    assert by["pay"]["quote"]["confirm_budgets"] == ["B-portaal-blok-7"] and by["pay"]["fl_cents"] == 2_000
    assert by["pay"]["trail_written"]["spent_cents"] == 2_000  # the refused attempts left the card's odometer alone
    con = sqlite3.connect(str(tmp_path / "data" / "terminal.db"))
    assert con.execute("SELECT COUNT(*), MAX(confirm_card_hex) FROM records").fetchone()[0] == 1
    con.close()


def test_failed_expectation_gives_exit_1(tmp_path):
    script = write(tmp_path, [{"action": "sign_in", "pin": "1234"},
                              {"action": "present", "card": "anna", "expect": "card_blocked"}])
    rc, out, _ = run(script, tmp_path / "data")
    assert rc == 1 and out[1]["ok"] is True and out[1]["expect_ok"] is False


def test_broken_script_is_refused_before_anything_runs(tmp_path):
    script = tmp_path / "bad.jsonl"
    script.write_text('{"action": "sign_in", "pin": "1234"}\n{not json\n')
    rc, out, err = run(script, tmp_path / "data")
    assert rc == 2 and out == []
    fatal = json.loads(err.strip().splitlines()[-1])
    assert fatal["error"] == "script_invalid" and "line 2" in fatal["message_nl"]
    assert not (tmp_path / "data" / "terminal.db").exists()


def test_unknown_action_and_not_signed_in_are_per_action_refusals(tmp_path):
    script = write(tmp_path, [{"action": "present", "card": "anna"}, {"action": "dance"}])
    rc, out, _ = run(script, tmp_path / "data")
    assert rc == 0 and [line["error"] for line in out] == ["not_signed_in", "script_invalid"]
