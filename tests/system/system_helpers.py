"""Real processes for the system test: floreyn-server, scripted tills (floreyn-terminal), the admin API.

Every wait is bounded. Processes write their logs to files in the test's
folder (a pipe nobody reads would fill and stall the server), except a
till's stdout, which a reader thread collects line by line so the test can
act at an exact point of a script (`ScriptRun.wait_for`).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import requests

from floreyn import keys
from floreyn.terminal import demo_setup
from floreyn.pins import hash_pin
from support.net import free_port

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
START_TIMEOUT_S = 120.0  # seconds here; over 30 s on a loaded 2-core machine (CI shares it)
SCRIPT_TIMEOUT_S = 60.0
CASHIER_PIN, MANAGER_PIN = "1234", "9999"


class ServerProcess:
    """`floreyn-server` on a fixed loopback port (kept across restarts), logging to a file."""

    def __init__(self, data_dir: Path, db_url: str) -> None:
        self.data_dir, self.db_url = data_dir, db_url
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> ServerProcess:
        self.starts += 1
        env = {k: v for k, v in os.environ.items() if k not in ("FLOREYN_DATA_DIR", "FLOREYN_DB_URL")}
        with open(self.data_dir.parent / f"server-{self.starts}.log", "wb") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "floreyn-server"), "--port", str(self.port), "--data-dir", str(self.data_dir),
                 "--db", self.db_url], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                start_new_session=True)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"floreyn-server exited with {self.proc.returncode}; see server-{self.starts}.log")
            try:
                if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.05)
        self.kill()  # not left running on its port and database
        raise AssertionError(f"floreyn-server did not answer within {START_TIMEOUT_S} s")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)


class Admin:
    """The admin API with the server's bootstrap token; writes carry fresh request ids, answers are checked."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.session = requests.Session()
        self.token = (server.data_dir / "admin_token").read_text().strip()

    def __call__(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        if body is not None:
            body = {"request_id": uuid.uuid4().hex, **body}
        resp = self.session.request(method, self.server.url + path, json=body, params=params or None, timeout=30,
                                    headers={"Authorization": f"Bearer {self.token}"})
        assert resp.status_code == 200, f"{method} {path}: {resp.status_code} {resp.text[:300]}"
        return resp.json()


class ScriptRun:
    """One run of the scripted till as a process; stdout lines parsed as they come."""

    def __init__(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.lines: list[dict[str, Any]] = []
        self._new: queue.Queue[dict[str, Any] | None] = queue.Queue()
        with open(log, "ab") as err:
            self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL,
                                         env=env, text=True, start_new_session=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            try:
                line = json.loads(raw)
            except json.JSONDecodeError:  # the line being written when the process was killed
                continue
            self.lines.append(line)
            self._new.put(line)
        self._new.put(None)

    def wait_for(self, predicate: Any, timeout_s: float = SCRIPT_TIMEOUT_S) -> dict[str, Any]:
        """The next output line that satisfies `predicate` (a callable, or an action id)."""
        match = predicate if callable(predicate) else (lambda line: line.get("id") == predicate)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                line = self._new.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {predicate!r} within {timeout_s} s") from None
            if line is None:
                raise AssertionError(f"the till ended before a line matching {predicate!r}")
            if match(line):
                return line

    def wait(self, timeout_s: float = SCRIPT_TIMEOUT_S) -> int:
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"the scripted till did not finish within {timeout_s} s") from None
        self._reader.join(timeout=10)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self._reader.join(timeout=10)


class Till:
    """A terminal: its key (enrolled at the server), its data folder, terminal.toml online and offline."""

    def __init__(self, root: Path, terminal_id: str, merchant_id: str, server: ServerProcess, admin: Admin,
                 server_key_hex: str, dead_url: str) -> None:
        self.terminal_id, self.merchant_id = terminal_id, merchant_id
        self.root = root / terminal_id
        self.data = self.root / "data"
        self.key = keys.new_private_key()
        keys.save_private_key(self.key, self.data / "terminal.key")
        admin("POST", "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant_id,
                                              "public_key": keys.public_raw(self.key).hex()})
        operators = "".join(
            f'[[operators]]\nname = "{name}"\nrole = "{role}"\npin_hash = "{hash_pin(pin, n=16, r=1, p=1)}"\n\n'
            for name, role, pin in (("Kassa", "cashier", CASHIER_PIN), ("Beheer", "manager", MANAGER_PIN)))
        for online, url in ((True, server.url), (False, dead_url)):
            self.config(online).write_text(f"""[terminal]
terminal_id = "{terminal_id}"
data_dir = "data"
issuer_keys = ["{keys.public_raw(demo_setup.demo_issuer()).hex()}"]

{operators}[till]
online_timeout_s = 2.0

[server]
url = "{url}"
server_key = "{server_key_hex}"
""", encoding="utf-8")
        self.runs = 0
        self.started: list[ScriptRun] = []

    def config(self, online: bool = True) -> Path:
        return self.root / ("terminal.toml" if online else "terminal-offline.toml")

    def spawn(self, name: str, actions: list[dict[str, Any]], *, online: bool = True, run_id: str | None = None,
              env: dict[str, str] | None = None, launcher: list[str] | None = None) -> ScriptRun:
        script = self.root / f"{name}.jsonl"
        if not script.exists():
            script.write_text("".join(json.dumps(a) + "\n" for a in actions), encoding="utf-8")
        self.runs += 1
        cli = launcher or [sys.executable, "-m", "floreyn.terminal.cli"]
        argv = [*cli, "--simulate", "--config", str(self.config(online)), "--script", str(script),
                "--run-id", run_id or name]
        run = ScriptRun(argv, self.root / f"{name}-{self.runs}.log", env)
        self.started.append(run)
        return run

    def kill_all(self) -> None:
        for run in self.started:
            run.kill()

    def run(self, name: str, actions: list[dict[str, Any]], **kw: Any) -> list[dict[str, Any]]:
        """Run a script to its end; every expectation in it must hold."""
        run = self.spawn(name, actions, **kw)
        code = run.wait()
        assert code == 0, f"{self.terminal_id} {name}: exit {code}, failed: " + json.dumps(
            [line for line in run.lines if not line.get("expect_ok", True)])[:2000]
        assert len(run.lines) == len(actions), f"{self.terminal_id} {name}: {len(run.lines)} of {len(actions)} lines"
        return run.lines

    def store_rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        import sqlite3

        con = sqlite3.connect(f"file:{self.data / 'terminal.db'}?mode=ro", uri=True, timeout=10)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()
