"""The demo's scripted walk-through (no display): three tills against the server, screenshots, a ledger report.

Part of `python -m floreyn.demo` (floreyn/demo.py sets up the server and the
cooperative first). Every till action goes through the scripted till
(`floreyn-terminal --simulate --script`), the screens through the app's own
offscreen tour (floreyn.terminal.app.tour), the report through
`floreyn-provision report` and the admin API. Outputs, all in the run folder:

    walkthrough/<terminal>.jsonl    one JSON line per till action (the scripted till's output)
    screenshots/NN-<screen>.png     the app's screens, with index.json
    T-*/receipts/                   what the virtual printers printed (PNG + TXT from the app, TXT from scripts)
    ledger-report.txt / .json       settlement per merchant, circulation, the replay check, the Z-reports
    boekhouding.csv                 every posting of the day, for the bookkeeping
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from floreyn.demo import Demo

from floreyn.demo import CASHIER_PIN, MAINTENANCE_BUDGET, MANAGER_PIN, MERCHANTS, TOUR_TIMEOUT_S, DemoError, exe, say

# What happens at each till during the day. "expect" makes a refusal part of the story (and checked).
DAY: dict[str, list[dict[str, object]]] = {
    "T-bakker-01": [
        {"id": "aanmelden", "action": "sign_in", "pin": CASHIER_PIN},
        {"id": "anna", "action": "present", "card": "anna"},
        {"id": "betalen", "action": "spend", "amount": "12,50"},
        {"id": "sparen", "action": "save", "amount": "24,50", "repeat_ok": True},
        {"id": "bram", "action": "present", "card": "bram"},
        {"id": "gemengd", "action": "spend", "amount": "8,00", "tender": "pin"},
        {"id": "dirk", "action": "present", "card": "dirk"},
        {"id": "opwaarderen", "action": "topup", "amount": "10,00"},
        {"id": "cees", "action": "present", "card": "cees", "expect": "card_blocked"},
        {"id": "nep", "action": "present", "card": "anna", "tamper": True, "expect": "card_tampered"},
        {"id": "terug", "action": "refund", "tx": "@betalen", "amount": "5,00", "manager_pin": MANAGER_PIN},
        {"id": "sync", "action": "sync"},
    ],
    "T-klusser-01": [
        {"id": "aanmelden", "action": "sign_in", "pin": CASHIER_PIN},
        {"id": "anna", "action": "present", "card": "anna"},
        {"id": "klus-budget", "action": "spend", "amount": "85,00", "source": MAINTENANCE_BUDGET},
        {"id": "fenna", "action": "present", "card": "fenna"},
        {"id": "geen-budget", "action": "spend", "amount": "10,00", "source": "B-gemeente-zomer-fenna",
         "expect": "budget_wrong_category"},
        {"id": "klus-eigen", "action": "spend", "amount": "12,00"},
        {"id": "sync", "action": "sync"},
    ],
    "T-kraam-01": [
        {"id": "aanmelden", "action": "sign_in", "pin": CASHIER_PIN},
        {"id": "fenna", "action": "present", "card": "fenna"},
        {"id": "dubbel-sparen", "action": "save", "amount": "30,00"},
        {"id": "zomerbudget", "action": "spend", "amount": "6,00", "repeat_ok": True},
        {"id": "eva", "action": "present", "card": "eva"},
        {"id": "aardbeien", "action": "spend", "amount": "4,00"},
        {"id": "sync", "action": "sync"},
    ],
}


def closing(day_close: bool) -> list[dict[str, object]]:
    """End of the day: the manager closes the day (Z-report) and the till syncs."""
    acts: list[dict[str, object]] = [{"id": "beheer", "action": "sign_in", "pin": MANAGER_PIN}]
    if day_close:
        acts.append({"id": "dagafsluiting", "action": "day_close"})
    return [*acts, {"id": "sync", "action": "sync"}, {"id": "status", "action": "status"}]


def run_script(demo: Demo, terminal_id: str, name: str, actions: list[dict[str, object]]) -> list[dict[str, Any]]:
    scripts = demo.run / "scripts"
    scripts.mkdir(exist_ok=True)
    path = scripts / f"{terminal_id}-{name}.jsonl"
    path.write_text("".join(json.dumps(a, ensure_ascii=False) + "\n" for a in actions), encoding="utf-8")
    argv = [*exe("floreyn-terminal", "floreyn.terminal.cli"), "--simulate", "--config",
            str(demo.config_path(terminal_id)), "--script", str(path), "--run-id", f"demo-{name}"]
    done = demo.children.run(f"floreyn-terminal {terminal_id} {name}", argv)
    (demo.run / "logs" / f"{terminal_id}-{name}.log").write_text(done.stderr, encoding="utf-8")
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    walk = demo.run / "walkthrough"
    walk.mkdir(exist_ok=True)
    with open(walk / f"{terminal_id}.jsonl", "a", encoding="utf-8") as f:
        f.write(done.stdout)
    if done.returncode not in (0, 1) or len(lines) != len(actions):
        raise DemoError(f"the scripted till {terminal_id} ({name}) stopped: {done.stderr.strip()[-500:]}")
    for line in lines:
        say(terminal_id, describe(line))
    return lines


def describe(line: dict[str, Any]) -> str:
    """One readable line per till action for the console."""
    from floreyn.money import Money, format_money

    head = f"{line['id']:<14}"
    if not line.get("ok"):
        mark = "verwacht" if line.get("expect_ok") else "FOUT"
        return f"{head} geweigerd ({mark}): {line.get('message_nl', line.get('error'))}"
    if line["action"] == "present":
        return f"{head} pas van {line.get('alias') or 'onbekend'}, eigen saldo " \
               f"{format_money(Money.fl(line.get('own_cents', 0)))}"
    if line["action"] == "day_close":
        report = line.get("report") or {}
        return f"{head} dag {report.get('day_no')} gesloten: {report.get('records')} records, Z-rapport geprint"
    if "kind_nl" in line:
        amounts = [format_money(Money.fl(line.get("fl_cents", 0)))]
        if line.get("eur_cents"):
            amounts.append(format_money(Money.eur(line["eur_cents"])))
        where = "offline" if line.get("offline") else "online"
        return f"{head} {line['kind_nl']} {' + '.join(amounts)} ({where}), bon {line.get('receipt', '-')}"
    if line["action"] == "sync":
        state = line.get("sync", {})
        return f"{head} {'online' if state.get('online') else 'NIET online'}, {state.get('waiting')} wachtend"
    return f"{head} ok"


def take_screenshots(demo: Demo) -> dict[str, object]:
    """The app's own screens, drawn offscreen, on the bakery's till (it makes two real sales and closes the day)."""
    out = demo.run / "screenshots"
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "SDL_AUDIODRIVER": "dummy", "KIVY_HOME": str(demo.run / "kivy")}
    argv = [sys.executable, "-m", "floreyn.terminal.app.tour",
            "--config", str(demo.config_path("T-bakker-01")), "--out", str(out)]
    done = demo.children.run("app tour", argv, timeout_s=TOUR_TIMEOUT_S, env=env)
    (demo.run / "logs" / "tour.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    index = out / "index.json"
    shots = json.loads(index.read_text(encoding="utf-8")) if index.exists() else []
    if done.returncode != 0:
        say("schermen", f"de rondleiding stopte (zie {demo.run / 'logs' / 'tour.log'}); {len(shots)} schermen")
    else:
        say("schermen", f"{len(shots)} schermafdrukken in {out}")
    return {"ok": done.returncode == 0, "count": len(shots), "dir": str(out)}


def ledger_report(demo: Demo, zreports: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    """Settlement per merchant and circulation (floreyn-provision's own reports), the replay check, Z-reports."""
    from floreyn.provisioning.output import fl

    day = demo.today.isoformat()
    period = ("--from", (demo.today - dt.timedelta(days=1)).isoformat(), "--to", day)
    text = [f"Floreyn demo - grootboekrapport {day}", "=" * 44, ""]
    data: dict[str, Any] = {"date": day, "settlements": {}, "zreports": zreports}
    for merchant_id, name, *_rest in MERCHANTS:
        text += [f"Afrekening {name} ({merchant_id})", "-" * 40,
                 demo.provision("report", "settlement", "--merchant", merchant_id, *period, json_out=False)]
        data["settlements"][merchant_id] = demo.provision("report", "settlement", "--merchant", merchant_id, *period)
    text += ["Floreyn in omloop", "-" * 40, demo.provision("report", "circulation", json_out=False)]
    data["circulation"] = demo.provision("report", "circulation")
    api = demo.admin()
    try:
        data["replay"] = api.get("/v1/admin/replay")
    finally:
        api.close()
    replay = data["replay"]
    text += ["Controle (replay: alle saldi herberekend, alle boekingen tellen op tot nul, ketens van de terminals)",
             "-" * 40, f"{'OK' if replay.get('ok') else 'PROBLEMEN'}: {replay.get('records')} terminalrecords, "
             f"{replay.get('postings')} boekingen, {replay.get('accounts')} rekeningen", ""]
    text += ["Dagafsluitingen (Z-rapporten) per terminal", "-" * 40]
    for terminal_id, reports in zreports.items():
        for r in reports:
            text.append(f"{terminal_id} dag {r['day_no']}: {r['records']} records, ontvangen "
                        f"{fl(r['fl_received_cents'])}, uitgegeven {fl(r['fl_issued_cents'])}")
    (demo.run / "ledger-report.txt").write_text("\n".join(text) + "\n", encoding="utf-8")
    (demo.run / "ledger-report.json").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    demo.provision("export", "csv", *period, "--out", str(demo.run / "boekhouding.csv"), json_out=False)
    return data


def walk_through(demo: Demo) -> dict[str, Any]:
    ok = True
    for terminal_id, actions in DAY.items():
        lines = run_script(demo, terminal_id, "dag", actions)
        ok &= all(line.get("expect_ok", line.get("ok", False)) for line in lines)
    say("schermen", "rondleiding door de kassa-app (offscreen), op de kassa van de bakker")
    tour = take_screenshots(demo)
    zreports: dict[str, list[dict[str, Any]]] = {}
    for _merchant, _name, *_rest, terminal_id in MERCHANTS:
        lines = run_script(demo, terminal_id, "sluiten", closing(not (tour["ok"] and terminal_id == "T-bakker-01")))
        ok &= all(line.get("ok") for line in lines)
        ok &= lines[-2]["sync"]["online"] and lines[-1]["pending_uploads"] == 0
        zreports[terminal_id] = read_zreports(demo.run / terminal_id)
    say("bonnen", f"{picture_receipts(demo)} bonnen van de scripts ook als afbeelding (PNG)")
    say("grootboek", "rapport: afrekening per winkel, omloop, controle")
    report = ledger_report(demo, zreports)
    ok &= bool(report["replay"].get("ok"))
    return {"ok": bool(ok), "tour": tour, "replay_ok": report["replay"].get("ok")}


def read_zreports(data_dir: Path) -> list[dict[str, Any]]:
    rows = _store_rows(data_dir / "terminal.db", "SELECT report FROM days WHERE report IS NOT NULL ORDER BY day_no")
    return [json.loads(r[0]) for r in rows]


def picture_receipts(demo: Demo) -> int:
    """A PNG beside each receipt the scripted tills printed as text (the scripted till keeps text only).

    The document is made again from the till's committed records, as a reprint would be, by the engine's
    own receipt code, and drawn only if its text is the very text that was printed.
    """
    from floreyn.terminal.config import load_config
    from floreyn.terminal.drivers.render_image import render_png
    from floreyn.terminal.drivers.virtual import VirtualPrinter
    from floreyn.terminal.engine.build import build_engine

    drawn = 0
    for _merchant, _name, *_rest, terminal_id in MERCHANTS:
        config = load_config(demo.config_path(terminal_id))
        engine = build_engine(config, VirtualPrinter(columns=config.columns), with_server=False)
        try:
            tx_ids = [r[0] for r in _store_rows(config.db_path, "SELECT DISTINCT tx_id FROM records")]
            for tx_id in tx_ids:
                doc = engine.receipt_doc(tx_id)
                name = "".join(ch for ch in doc.doc_id if ch.isalnum() or ch in "-_")
                text = config.data_dir / "receipts" / f"{name}.txt"
                png = text.with_suffix(".png")
                if text.exists() and not png.exists() and text.read_text(encoding="utf-8") == doc.text(config.columns):
                    png.write_bytes(render_png(doc, config.columns))
                    drawn += 1
        finally:
            engine.store.close()
    return drawn


def _store_rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def receipts(demo: Demo) -> list[Path]:
    return sorted(p for terminal in demo.run.glob("T-*") if terminal.is_dir()
                  for p in (terminal / "receipts").glob("*") if p.suffix in (".png", ".txt"))


def print_summary(demo: Demo, summary: dict[str, Any], seconds: float) -> None:
    files = receipts(demo)
    pngs = sum(1 for p in files if p.suffix == ".png")
    rel = lambda p: os.path.relpath(p)  # noqa: E731
    status = "klaar / done" if summary["ok"] else "KLAAR MET FOUTEN / finished with errors"
    print(f"""
Floreyn demo {status} in {seconds:.0f} s. The server and tills it started are stopped; everything is in {rel(demo.run)}/:
  walk-through  {rel(demo.run / 'walkthrough')}/T-*.jsonl  (one JSON line per till action)
  screenshots   {rel(demo.run / 'screenshots')}/  ({summary['tour']['count']} PNG, index.json)
  receipts      {rel(demo.run)}/T-*/receipts/  ({len(files)} files: {pngs} PNG, {len(files) - pngs} TXT)
  ledger        {rel(demo.run / 'ledger-report.txt')}  (and .json; replay check {'OK' if summary['replay_ok'] else 'FAILED'})
  bookkeeping   {rel(demo.run / 'boekhouding.csv')}
  server data   {rel(demo.run / 'server')}/  (SQLite), logs in {rel(demo.run / 'logs')}/
  tills         {rel(demo.run)}/T-*.toml (open one: floreyn-terminal --simulate --config {rel(demo.config_path('T-bakker-01'))},
                with floreyn-server --data-dir {rel(demo.run / 'server')} --port {demo.port} running)
""", flush=True)
