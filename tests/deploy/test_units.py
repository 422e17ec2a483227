"""The systemd units: `systemd-analyze verify` accepts them, and their command lines really run.

verify runs against a throw-away root (`--root`): the units as install-server.sh
and install-terminal.sh stage them, this machine's own systemd units beside
them (for the targets they name), and an executable at each ExecStart path.
A unit with a typo is caught the same way (the check can fail). Then the
server's and the backup's ExecStart lines, with FLOREYN_SERVER_ARGS as
server.env sets it, are run as systemd would split them: the server answers
on its port, the backup lands in its folder.
"""

from __future__ import annotations


import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import requests

from floreyn.server.db import head_revision

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
UNITS = ["floreyn-terminal.service", "floreyn-server.service", "floreyn-uploads.service", "floreyn-backup.service", "floreyn-backup.timer",
         "floreyn-budget-expire.service", "floreyn-budget-expire.timer", "floreyn-housekeeping.service",
         "floreyn-housekeeping.timer"]


def staged_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    for script in ("install-server.sh", "install-terminal.sh"):
        done = subprocess.run(["bash", str(DEPLOY / script), "--no-venv"], env={**os.environ, "DESTDIR": str(root)},
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    host_units = Path("/usr/lib/systemd/system")
    assert host_units.is_dir(), "systemd is missing: `make sysdeps` installs it"
    shutil.copytree(host_units, root / "usr/lib/systemd/system", symlinks=True)
    for exe in ("floreyn-server", "floreyn-terminal"):
        stub = root / "opt/floreyn/venv/bin" / exe
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return root


def verify(root: Path, unit: str) -> subprocess.CompletedProcess:
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `make sysdeps` installs systemd"
    return subprocess.run([analyze, "verify", "--man=no", f"--root={root}", unit], capture_output=True, text=True,
                          timeout=60)


def test_systemd_analyze_verify_accepts_every_unit_and_catches_a_typo(tmp_path):
    root = staged_root(tmp_path)
    for unit in UNITS:
        done = verify(root, unit)
        assert done.returncode == 0 and not done.stderr.strip(), f"{unit}: {done.stderr}"
    broken = root / "etc/systemd/system/floreyn-server.service"
    broken.write_text(broken.read_text().replace("Restart=on-failure", "Restrat=on-failure"))
    assert "Unknown key" in verify(root, "floreyn-server.service").stderr
    (root / "opt/floreyn/venv/bin/floreyn-terminal").unlink()  # a unit pointing at nothing is refused
    assert verify(root, "floreyn-terminal.service").returncode != 0


def test_the_uploads_unit_is_the_servers_on_its_own_port_at_a_lower_priority():
    """floreyn-uploads.service copies floreyn-server.service line for line but for these: a copy that drifted
    (a hardening line added to one only) fails here."""
    server = (DEPLOY / "server/floreyn-server.service").read_text().splitlines()
    uploads = (DEPLOY / "server/floreyn-uploads.service").read_text().splitlines()
    differ = {"Description=", "After=", "ExecStart=", "SyslogIdentifier="}
    body = [line for line in uploads if not line.startswith(("#", "Nice=", "CPUWeight="))]
    assert [line.split("=")[0] for line in body] == [line.split("=")[0] for line in server if not line.startswith("#")]
    for mine, theirs in zip(body, (line for line in server if not line.startswith("#")), strict=True):
        assert mine == theirs or mine.startswith(tuple(differ)), (mine, theirs)
    assert "--port 8471" in next(line for line in body if line.startswith("ExecStart="))
    assert "floreyn-server.service" in next(line for line in body if line.startswith("After="))
    assert "Nice=10" in uploads and "CPUWeight=20" in uploads


def exec_start(unit: str, env: dict[str, str]) -> list[str]:
    """ExecStart as systemd runs it: $VAR (unquoted) splits into words, ${VAR} stays one."""
    line = re.search(r"^ExecStart=(.*)$", (DEPLOY / "server" / unit).read_text(), re.M).group(1)
    words = []
    for word in shlex.split(line):
        m = re.fullmatch(r"\$([A-Z_]+)", word)
        words.extend(env.get(m.group(1), "").split() if m else [word])
    return words


def localise(words: list[str], data: Path, backups: Path) -> list[str]:
    """This machine's paths for the unit's: the venv's script, the test's folders."""
    exe = str(Path(sys.executable).parent / "floreyn-server")
    return [exe if w == "/opt/floreyn/venv/bin/floreyn-server" else
            str(data) if w == "/var/lib/floreyn-server" else str(backups) if w == "/var/backups/floreyn" else w
            for w in words]


def test_the_units_command_lines_serve_and_back_up(db_url, tmp_path, free_port):
    args = "" if db_url.startswith("sqlite") else f"--db {db_url} --workers 2"  # SQLite: in the data folder
    env_file = (DEPLOY / "server/server.env").read_text()
    assert re.search(r"^FLOREYN_SERVER_ARGS=$", env_file, re.M)  # shipped: SQLite
    env = {"FLOREYN_SERVER_ARGS": args}
    serve = localise(exec_start("floreyn-server.service", env), tmp_path / "data", tmp_path / "backups")
    serve[serve.index("--port") + 1] = str(free_port)
    assert "--host" in serve and serve[serve.index("--host") + 1] == "127.0.0.1"
    proc = subprocess.Popen(serve, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "FLOREYN_LOG_FORMAT": "json"})
    try:
        deadline = time.monotonic() + 120  # the server's start-up: seconds, but over 30 s on a loaded machine
        while True:
            assert proc.poll() is None, proc.stderr.read()[-2000:]
            try:
                health = requests.get(f"http://127.0.0.1:{free_port}/v1/health", timeout=1)
                if health.status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        assert health.json()["database"] == "ok"
        backup = localise(exec_start("floreyn-backup.service", env), tmp_path / "data", tmp_path / "backups")
        assert backup[-4:] == ["--to", str(tmp_path / "backups"), "--keep", "30"]
        (tmp_path / "backups").mkdir()
        done = subprocess.run(backup, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        made = json.loads(done.stdout)
        assert Path(made["path"]).parent == tmp_path / "backups" and made["revision"] == head_revision()
        assert made["source"] == ("sqlite" if not args else "postgresql")
        expire = localise(exec_start("floreyn-budget-expire.service", env), tmp_path / "data", tmp_path / "backups")
        assert expire[-1] == "expire-budgets"
        for _ in range(2):  # a rerun the same day is harmless
            done = subprocess.run(expire, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, done.stderr
            assert json.loads(done.stdout)["expired"] == []
    finally:
        proc.terminate()
        proc.wait(timeout=20)
