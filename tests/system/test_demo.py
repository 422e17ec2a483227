"""`make demo` (python -m floreyn.demo) as a process: headless walk-through, the till with a display, stopping.

Runs the demo three times on one run folder: headless (what a machine without a display gets: screenshots,
receipts, a ledger report), then with a "display" (SDL's offscreen driver; the till closes itself after a
few seconds), then headless again, stopped with SIGTERM while it works. Each run starts afresh, and
nothing it started may outlive it.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import requests
from support import kivy_env

DEMO_TIMEOUT_S = 300.0  # the walk-through, then the portal in chromium; a busy 2-core machine


def demo(run: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "floreyn.demo", "--run-dir", str(run), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env or os.environ.copy())


def left_behind(run: Path) -> list[str]:
    """Processes whose command line names the run folder (the server, a till): none may outlive the demo."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        cmdline = " ".join(proc.info.get("cmdline") or ())
        if str(run) in cmdline and proc.pid != os.getpid():
            found.append(f"{proc.pid}: {cmdline[:200]}")
    return found


def server_url(output: str) -> str:
    found = re.search(r"draait op (http://127\.0\.0\.1:\d+)", output)
    assert found, output[-2000:]
    return found.group(1)


def assert_stopped(run: Path, url: str) -> None:
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/v1/health", timeout=2)
    assert not left_behind(run)


@pytest.mark.slow
def test_demo_headless_then_with_a_display_then_stopped(tmp_path):
    run = tmp_path / "run" / "demo"
    proc = demo(run, "--headless")
    output, _ = proc.communicate(timeout=DEMO_TIMEOUT_S)
    assert proc.returncode == 0, output[-3000:]
    assert "klaar / done" in output and "ledger-report.txt" in output and "screenshots" in output
    assert_stopped(run, server_url(output))
    # The portal: Anna, Harry, the bakery and the corporation signed in; Harry's request paid by Anna.
    assert "payment request paid: True" in output
    portal = sorted(p.name for p in (run / "portal").glob("*.png"))
    assert len(portal) == 9 and any("harry-betaald" in n for n in portal) and any("corporation" in n for n in portal)

    shots = json.loads((run / "screenshots" / "index.json").read_text())
    assert [s["screen"] for s in shots][:3] == ["signin", "idle", "member"] and len(shots) >= 12
    assert {"confirm", "done", "manager", "status", "report"} <= {s["screen"] for s in shots}
    for shot in shots:
        kivy_env.assert_not_blank(run / "screenshots" / shot["file"])
    receipts = sorted((run / "T-bakker-01" / "receipts").iterdir())
    pngs = [p for p in receipts if p.suffix == ".png"]
    assert pngs and all(p.with_suffix(".txt").exists() for p in pngs)
    assert any("z-day" in p.name for p in pngs), "the tour's Z-report was printed"
    assert "Korenbloem" in pngs[0].with_suffix(".txt").read_text()

    walk = {p.stem: [json.loads(line) for line in p.read_text().splitlines()]
            for p in (run / "walkthrough").glob("T-*.jsonl")}
    assert set(walk) == {"T-bakker-01", "T-klusser-01", "T-kraam-01"}
    lines = [line for till in walk.values() for line in till]
    assert all(line.get("expect_ok", line["ok"]) for line in lines), [x for x in lines if not x.get("ok")]
    by_id = {(t, line["id"]): line for t, till in walk.items() for line in till}
    assert by_id[("T-klusser-01", "klus-budget")]["records"][0]["budget_id"] == "B-portaal-onderhoud-anna"
    assert by_id[("T-kraam-01", "dubbel-sparen")]["quote"]["campaign"] == "Zomermarkt: dubbel sparen"
    assert by_id[("T-kraam-01", "dubbel-sparen")]["fl_cents"] == 300  # 5 % of € 30,00, doubled
    assert by_id[("T-bakker-01", "cees")]["error"] == "card_blocked"

    report = json.loads((run / "ledger-report.json").read_text())
    held = sum(_count(run / t / "terminal.db") for t in walk)  # the scripts' records and the tour's sales
    assert report["replay"]["ok"] and report["replay"]["records"] == held >= 15, report["replay"]
    assert set(report["settlements"]) == {"M-bakker", "M-klusser", "M-kraam"}
    assert report["settlements"]["M-klusser"]["fl"]["received_cents"] == 8_500 + 1_200
    assert report["circulation"]["eur_reserve_cents"] > 0 and report["zreports"]["T-kraam-01"][0]["day_no"] == 1
    text = (run / "ledger-report.txt").read_text()
    assert "Afrekening Bakkerij De Korenbloem" in text and "OK:" in text
    assert (run / "boekhouding.csv").read_text(encoding="utf-8").startswith("\ufeffdatum;tijd;transactie")  # Dutch Excel dialect

    # With a display: the bakery's till opens (offscreen here) against the demo server, on a fresh folder.
    env = {**os.environ, "SDL_VIDEODRIVER": "offscreen", "FLOREYN_APP_EXIT_AFTER_S": "2"}
    proc = demo(run, "--display", env=env)
    output, _ = proc.communicate(timeout=DEMO_TIMEOUT_S)
    assert proc.returncode == 0, output[-3000:]
    assert not (run / "ledger-report.txt").exists(), "each run starts afresh"
    assert "De kassa van de bakker opent" in output and "the till closed (exit 0)" in output
    assert_stopped(run, server_url(output))

    # Stopped with SIGTERM while it sets up: everything it started stops too.
    proc = demo(run, "--headless")
    seen = []
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while not any("draait op" in line for line in seen):
        assert time.monotonic() < deadline and proc.poll() is None, "".join(seen)
        seen.append(proc.stdout.readline())
    time.sleep(1.0)  # into the set-up: floreyn-provision commands are running
    proc.send_signal(signal.SIGTERM)
    rest, _ = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signal.SIGTERM, "".join(seen) + rest
    assert_stopped(run, server_url("".join(seen)))


def _count(db: Path) -> int:
    import sqlite3

    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT COUNT(*) FROM records").fetchone()[0])
    finally:
        con.close()


def test_demo_refuses_to_wipe_a_folder_it_did_not_make(tmp_path):
    run = tmp_path / "mine"
    run.mkdir()
    (run / "important.txt").write_text("keep me")
    proc = demo(run, "--headless")
    output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1 and "was not made by the demo" in output
    assert (run / "important.txt").read_text() == "keep me"


def test_display_detection_needs_a_live_display_server(tmp_path, monkeypatch):
    from floreyn import demo as demo_module

    for name in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    assert not demo_module._display_server_alive()
    monkeypatch.setenv("DISPLAY", ":4711")  # set, but no X server listens: run the walk-through
    assert not demo_module._display_server_alive()
    monkeypatch.setenv("DISPLAY", "desk.example:0")  # a remote display cannot be checked from here
    assert demo_module._display_server_alive()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-7")
    assert not demo_module._display_server_alive()
    (tmp_path / "wayland-7").touch()  # the compositor's socket
    assert demo_module._display_server_alive()


def test_the_demo_till_takes_the_panel_size(tmp_path):
    """`make demo DEMO_ARGS='--panel 1024x600'`: the enrolled terminal.toml says so in [display], which sizes the
    till's window and the tour (issue 17 item 11); a malformed size is refused before anything starts."""
    from floreyn import demo as demo_module
    from floreyn.terminal.config import config_from_dict

    config = tmp_path / "T-bakker-01.toml"
    config.write_text('[terminal]\nterminal_id = "T-bakker-01"\n', encoding="utf-8")
    demo_module.write_panel(config, demo_module.panel_size("1024x600"))
    import tomllib

    display = config_from_dict(tomllib.loads(config.read_text(encoding="utf-8")), base_dir=tmp_path).display
    assert (display.width_px, display.height_px) == (1024, 600)
    for bad in ("1024", "0x600", "groot"):
        with pytest.raises(Exception, match="WIDTHxHEIGHT"):
            demo_module.panel_size(bad)
