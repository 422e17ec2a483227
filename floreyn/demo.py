"""`make demo` (`python -m floreyn.demo`): a demo cooperative on this machine, through the real parts.

    python -m floreyn.demo [--run-dir run/demo] [--headless | --display] [--panel 1024x600]

1. Resets the run folder (run/demo) and starts `floreyn-server` on a free
   loopback port with its data (SQLite) in run/demo/server.
2. Sets up the cooperative with `floreyn-provision` commands: init, three
   merchants (a bakery, a handyman, a summer-market stall), two funders,
   members imported from CSV, a housing corporation's maintenance budget, the
   "Zomermarkt: dubbel sparen" campaign, desk top-ups, a blocked card and
   three terminals enrolled (run/demo/T-*.toml). Writing cards needs an NFC
   reader, so the six demo cards the till's card picker knows
   (terminal/demo_setup.py: anna .. fenna, signed by the demo issuer key) are
   registered through the admin API instead, with the demo issuer key added
   to the server's issuer keys. Each terminal.toml gets the panel's
   resolution (--panel, default 800x480, the official 7" panel) in [display]:
   the till's window and the tour's screenshots take that size.
3. With a display (DISPLAY or WAYLAND_DISPLAY, or a Raspberry Pi console):
   opens `floreyn-terminal --simulate --config run/demo/T-bakker-01.toml`
   and waits until its window is closed.
   Without one: a scripted walk-through on the three tills (the scripted
   till against the server: spend, save with the campaign, a budget spend at
   the handyman, top-up, refund, a blocked card, day close, sync), a tour of
   the app's screens drawn offscreen (run/demo/screenshots), the virtual
   printer's receipts (PNG + text) and a ledger report (settlement per
   merchant, circulation, replay check) in the run folder; then the portal
   (floreyn/demo_portal.py): Anna, Handige Harry, the bakery and the housing
   corporation sign in on a phone-sized chromium, Harry's payment request is
   paid by Anna end to end, screenshots in run/demo/portal/.

Everything it starts runs in its own process group and is stopped on the way
out: normal end, an error, Ctrl-C or SIGTERM. Running it again starts afresh.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any, Final, Sequence
from zoneinfo import ZoneInfo

from floreyn import keys

MARKER: Final = ".floreyn-demo"  # only a folder holding this (or an empty one) is ever wiped
START_TIMEOUT_S: Final = 30.0
STOP_TIMEOUT_S: Final = 5.0
COMMAND_TIMEOUT_S: Final = 120.0
TOUR_TIMEOUT_S: Final = 180.0
TZ: Final = ZoneInfo("Europe/Amsterdam")
CASHIER_PIN, MANAGER_PIN = "1234", "9999"  # the PINs the built-in demo till uses too

MERCHANTS: Final = (  # id, name, category, save rate %, top-up at the till, terminal
    ("M-bakker", "Bakkerij De Korenbloem", "winkel", "5", True, "T-bakker-01"),
    ("M-klusser", "Klusbedrijf Van Dijk", "klussen", "2", False, "T-klusser-01"),
    ("M-kraam", "Kraam Het Zonnetje (zomermarkt)", "markt", "5", False, "T-kraam-01"),
)
FUNDERS: Final = (("F-portaal", "Woningcorporatie Portaal", "400"), ("F-gemeente", "Gemeente Amersfoort", "100"))
# The demo cards of terminal/demo_setup.py: name -> (alias, full name, euros topped up at the desk)
MEMBERS: Final = {
    "anna": ("Anna", "Anna de Boer", "50"), "bram": ("Bram", "Bram Jansen", "5"),
    "cees": ("Cees", "Cees Visser", "50"), "dirk": ("Dirk", "Dirk Smit", ""),
    "eva": ("Eva", "Eva Bakker", "20"), "fenna": ("Fenna", "Fenna El Amrani", "40"),
}
MAINTENANCE_BUDGET: Final = "B-portaal-onderhoud-anna"


class Children:
    """Every process the demo starts, each in its own process group, stopped together."""

    def __init__(self) -> None:
        self.procs: list[tuple[str, subprocess.Popen[bytes]]] = []

    def start(self, name: str, argv: Sequence[str], *, log: Path | None = None,
              env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        out = open(log, "ab") if log else None  # noqa: SIM115 - the child holds it
        try:
            proc = subprocess.Popen(list(argv), stdout=out or subprocess.DEVNULL, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            if out:
                out.close()
        self.procs.append((name, proc))
        return proc

    def run(self, name: str, argv: Sequence[str], *, timeout_s: float = COMMAND_TIMEOUT_S,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        """Run to the end (bounded); stdout and stderr captured as text."""
        proc = subprocess.Popen(list(argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.procs.append((name, proc))
        try:
            out, err = proc.communicate(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.stop(proc)
            raise DemoError(f"{name}: no answer within {timeout_s:.0f} s") from None
        self.procs = [(n, p) for n, p in self.procs if p is not proc]
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())

    @staticmethod
    def stop(proc: subprocess.Popen[Any]) -> None:
        """SIGTERM to the child's whole group, SIGKILL if it has not gone within STOP_TIMEOUT_S."""
        if proc.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, STOP_TIMEOUT_S)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                return
            try:
                proc.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def stop_all(self) -> None:
        for _name, proc in reversed(self.procs):
            self.stop(proc)
        self.procs.clear()


class DemoError(Exception):
    pass


def _terminate(signum: int, _frame: Any) -> None:
    print(f"\ndemo: stopped by signal {signum}; stopping what it started", file=sys.stderr, flush=True)
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that stop the children


def exe(name: str, module: str) -> list[str]:
    """The console script beside this Python (the installed entry point), else `python -m module`."""
    script = Path(sys.executable).parent / name
    return [str(script)] if script.exists() else [sys.executable, "-m", module]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reset_run_dir(run: Path) -> None:
    """Start afresh; refuse to wipe a folder the demo did not make."""
    if run.exists():
        if not (run / MARKER).exists() and any(run.iterdir()):
            raise DemoError(f"{run} exists and was not made by the demo; choose another --run-dir")
        shutil.rmtree(run)
    (run / "logs").mkdir(parents=True)
    (run / MARKER).write_text("made by python -m floreyn.demo; removed and rebuilt by every run\n")


def has_display() -> bool:
    """A desktop session whose display server is there, or a Raspberry Pi at its own console."""
    if _display_server_alive():
        return True
    model = Path("/proc/device-tree/model")
    try:  # a Raspberry Pi at its own console: the till's kiosk mode draws on the panel (kmsdrm)
        on_pi = model.exists() and "Raspberry Pi" in model.read_text(errors="replace")
        tty = os.isatty(0) and os.ttyname(0).startswith("/dev/tty")
    except OSError:
        return False
    return on_pi and tty and any(Path("/dev/dri").glob("card*"))


def _display_server_alive() -> bool:
    """DISPLAY / WAYLAND_DISPLAY set and, for a local one, its socket there (a stale DISPLAY is no display:
    SDL would fall back to drawing nowhere, and the demo would wait for a window nobody can see)."""
    wayland = os.environ.get("WAYLAND_DISPLAY")
    if wayland:
        runtime = os.environ.get("XDG_RUNTIME_DIR", "")
        if Path(wayland).is_absolute() or not runtime or (Path(runtime) / wayland).exists():
            return True
    display = os.environ.get("DISPLAY", "")
    host, _, number = display.rpartition(":")
    if not display:
        return False
    if host not in ("", "unix"):
        return True  # a remote display (ssh -X): nothing local to check
    return Path(f"/tmp/.X11-unix/X{number.split('.')[0]}").exists()


DEFAULT_PANEL: Final = (800, 480)  # the official Raspberry Pi 7" panel


def panel_size(text: str) -> tuple[int, int]:
    """"1024x600" -> (1024, 600): the demo till's panel (argparse type)."""
    w, sep, h = text.lower().partition("x")
    if not (sep and w.isdigit() and h.isdigit() and int(w) > 0 and int(h) > 0):
        raise argparse.ArgumentTypeError(f"a panel size is WIDTHxHEIGHT in pixels, e.g. 1024x600, not {text!r}")
    return int(w), int(h)


def write_panel(config: Path, panel: tuple[int, int]) -> None:
    """The panel's resolution in the enrolled terminal.toml's [display] (enrolment writes none)."""
    with open(config, "a", encoding="utf-8") as out:
        out.write("\n# The panel the demo till is drawn for (python -m floreyn.demo --panel): its window, the tour.\n"
                  f"[display]\nwidth_px = {panel[0]}\nheight_px = {panel[1]}\n")


class Demo:
    def __init__(self, run: Path, children: Children, panel: tuple[int, int] = DEFAULT_PANEL) -> None:
        self.run = run.resolve()
        self.children = children
        self.panel = panel
        self.port = 0
        self.today = dt.datetime.now(TZ).date()
        self.desk = self.run / "desk"
        self.server_proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def config_path(self, terminal_id: str) -> Path:
        return self.run / f"{terminal_id}.toml"

    # -- server -------------------------------------------------------------------------------------

    def start_server(self) -> None:
        import requests

        (self.run / "server").mkdir(exist_ok=True)
        for _attempt in range(3):  # the free port may be taken between asking and binding
            self.port = free_port()
            argv = [*exe("floreyn-server", "floreyn.server.cli"), "--host", "127.0.0.1", "--port", str(self.port),
                    "--data-dir", str(self.run / "server")]
            self.server_proc = proc = self.children.start("floreyn-server", argv, log=self.run / "logs" / "server.log")
            deadline = time.monotonic() + START_TIMEOUT_S
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                        return
                except requests.RequestException:
                    time.sleep(0.1)
            self.children.stop(proc)
        raise DemoError(f"floreyn-server did not start; see {self.run / 'logs' / 'server.log'}")

    # -- provisioning ---------------------------------------------------------------------------------

    def provision(self, *args: str, json_out: bool = True) -> Any:
        env = {**os.environ, "FLOREYN_PROVISION_HOME": str(self.desk)}
        for name in ("FLOREYN_SERVER", "FLOREYN_TOKEN", "FLOREYN_READER", "FLOREYN_KEY_PASSPHRASE"):
            env.pop(name, None)  # the demo's own server, whatever this shell is set up for
        argv = [*exe("floreyn-provision", "floreyn.provisioning.cli"), "--server", self.url, *args]
        if json_out:
            argv.append("--json")
        done = self.children.run("floreyn-provision " + " ".join(args[:2]), argv, env=env)
        with open(self.run / "logs" / "provision.log", "a", encoding="utf-8") as log:
            log.write(f"$ floreyn-provision {' '.join(args)}\n{done.stdout}{done.stderr}\n")
        if done.returncode != 0:
            raise DemoError(f"floreyn-provision {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
        return json.loads(done.stdout) if json_out else done.stdout

    def admin(self):  # noqa: ANN201 - AdminClient with the desk's token (made by init)
        from floreyn.provisioning.api import AdminClient

        stored = tomllib.loads((self.desk / "provision.toml").read_text(encoding="utf-8"))
        return AdminClient(self.url, stored["token"])

    def set_up(self) -> None:
        day = lambda n: (self.today + dt.timedelta(days=n)).isoformat()  # noqa: E731
        self.provision("init", "--bootstrap-token-file", str(self.run / "server" / "admin_token"), "--no-passphrase",
                       "--token-name", "demo-balie", "--cooperative", "Coöperatie Floreyn Soesterkwartier")
        for merchant_id, name, category, rate, topup, _terminal in MERCHANTS:
            self.provision("merchant", "add", "--id", merchant_id, "--name", name, "--category", category,
                           "--save-rate", rate, "--topup" if topup else "--no-topup")
        for funder_id, name, euros in FUNDERS:
            self.provision("funder", "add", "--id", funder_id, "--name", name)
            self.provision("desk", "topup", "--funder", funder_id, "--amount", euros)
        members = self.run / "leden.csv"
        members.write_text("lidnummer;roepnaam;naam;e-mail\n" + "".join(
            f"m-{key};{alias};{name};{key}@example.org\n" for key, (alias, name, _eur) in MEMBERS.items()),
            encoding="utf-8")
        self.provision("member", "import", str(members), "--out", str(self.run / "leden-ids.csv"))
        self.register_demo_cards()
        for key, (_alias, _name, euros) in MEMBERS.items():
            if euros:
                self.provision("desk", "topup", "--member", f"m-{key}", "--amount", euros)
        budgets = self.run / "budgetten.csv"
        budgets.write_text(
            "budget_id;lidnummer;bedrag;categorieen;vervaldatum;fonds;omschrijving\n"
            f"{MAINTENANCE_BUDGET};m-anna;150;klussen;{day(120)};F-portaal;Onderhoudsbudget Portaal\n"
            f"B-gemeente-boodschap-anna;m-anna;15;winkel markt;{day(60)};F-gemeente;Boodschappenbudget Gemeente\n"
            f"B-gemeente-zomer-fenna;m-fenna;8;winkel markt;{day(10)};F-gemeente;Zomerbudget Gemeente\n",
            encoding="utf-8")
        self.provision("budget", "grant", str(budgets))
        self.provision("campaign", "add", "--id", "C-zomermarkt", "--name", "Zomermarkt: dubbel sparen",
                       "--multiplier", "2", "--from", day(-7), "--to", day(30), "--merchant", "M-kraam",
                       "--merchant", "M-bakker")
        from floreyn.terminal.demo_setup import demo_card_id

        self.provision("card", "block", demo_card_id("cees").hex(), "--reason", "verloren (demo)")
        for merchant_id, _name, _category, _rate, _topup, terminal_id in MERCHANTS:
            self.provision("terminal", "enroll", "--terminal-id", terminal_id, "--merchant", merchant_id,
                           "--config", str(self.config_path(terminal_id)), "--data-dir", str(self.run / terminal_id),
                           "--operator", f"Kassa:cashier:{CASHIER_PIN}", "--operator", f"Beheer:manager:{MANAGER_PIN}")
            write_panel(self.config_path(terminal_id), self.panel)

    def register_demo_cards(self) -> None:
        """The cards the till's demo card picker lays on the virtual reader, known to the server.

        A real card is written and registered by `floreyn-provision card issue` at
        an NFC reader; here the card ids and their issuer key are registered the
        way that command does it, through the admin API, with request ids that
        make a retry harmless.
        """
        from floreyn.terminal.demo_setup import demo_card_id, demo_issuer

        api = self.admin()
        try:
            issuer = keys.public_raw(demo_issuer()).hex()
            known = list(api.get("/v1/admin/config").get("issuer_keys") or [])
            if issuer not in known:
                api.send("PATCH", "/v1/admin/config", {"issuer_keys": [*known, issuer],
                                                       "request_id": "demo-issuer-key"})
            for key in MEMBERS:
                api.send("POST", "/v1/admin/cards", {"card_id": demo_card_id(key).hex(), "member_id": f"m-{key}",
                                                     "request_id": f"demo-card-{key}"})
        finally:
            api.close()

    # -- the till -------------------------------------------------------------------------------------

    def open_till(self) -> int:
        argv = [*exe("floreyn-terminal", "floreyn.terminal.cli"), "--simulate",
                "--config", str(self.config_path("T-bakker-01"))]
        print(f"\nDe kassa van de bakker opent. Pincode {CASHIER_PIN} (kassa) of {MANAGER_PIN} (beheer); "
              "leg een pas op de lezer met de toetsen 1-6 of de knop 'Demopas'.\n"
              f"The bakery's till opens: PIN {CASHIER_PIN} or {MANAGER_PIN}; keys 1-6 (or 'Demopas') lay a demo card on the reader. "
              "Close the window (or press Ctrl-C here) to stop the demo.", flush=True)
        proc = self.children.start("floreyn-terminal", argv, log=self.run / "logs" / "till.log")
        code = proc.wait()
        if code != 0:
            print(f"demo: the till stopped with exit {code} (see {os.path.relpath(self.run / 'logs' / 'till.log')}); "
                  "without a working display, run: python -m floreyn.demo --headless", file=sys.stderr, flush=True)
        print(f"De kassa is gesloten / the till closed (exit {code}); the server stops now. Receipts (PNG + TXT): "
              f"{os.path.relpath(self.run / 'T-bakker-01' / 'receipts')}/, log: {os.path.relpath(self.run / 'logs')}/",
              flush=True)
        return code


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m floreyn.demo", description=__doc__.split("\n\n")[0])
    p.add_argument("--run-dir", type=Path, default=Path("run/demo"), help="the run folder (default run/demo)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--headless", action="store_true", help="scripted walk-through even with a display")
    mode.add_argument("--display", action="store_true", help="open the till even without a detected display")
    p.add_argument("--panel", type=panel_size, default=DEFAULT_PANEL, metavar="WxH",
                   help="the till's panel in pixels: its window and the tour's screenshots (default 800x480)")
    args = p.parse_args(argv)
    headless = args.headless or (not args.display and (os.environ.get("FLOREYN_DEMO_HEADLESS") == "1"
                                                       or not has_display()))
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C stops it, even if started with SIGINT ignored
    children = Children()
    started = time.monotonic()
    try:
        reset_run_dir(args.run_dir)
        demo = Demo(args.run_dir, children, args.panel)
        say("server", f"floreyn-server starten, data in {demo.run / 'server'}")
        demo.start_server()
        say("server", f"draait op {demo.url}")
        say("coöperatie", "opzetten met floreyn-provision (winkels, leden, budget, campagne, terminals)")
        demo.set_up()
        if not headless:
            return demo.open_till()
        from floreyn import demo_portal, demo_walk

        summary = demo_walk.walk_through(demo)
        portal = demo_portal.walk(demo)
        demo_walk.print_summary(demo, summary, time.monotonic() - started)
        print(f"  portal        {os.path.relpath(portal['folder'])}/  ({len(portal['screenshots'])} PNG: Anna, Harry, "
              f"the bakery, the corporation; payment request paid: {portal['request_paid']})", flush=True)
        return 0 if summary["ok"] and portal["request_paid"] else 1
    except DemoError as exc:
        print(f"demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ndemo: onderbroken / interrupted", file=sys.stderr)
        return 130
    finally:
        children.stop_all()


def say(what: str, text: str) -> None:
    print(f"[demo] {what:<11} {text}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
