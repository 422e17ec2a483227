"""The installed console script, run as a real process, configured through the environment."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

from support.net import free_port

SCRIPT = Path(sys.executable).parent / "floreyn-provision"


def run(env_extra: dict[str, str], *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOREYN_")}
    env.update(env_extra)
    return subprocess.run([str(SCRIPT), *argv], env=env, capture_output=True, text=True, timeout=60)


def test_the_console_script_works_from_environment_settings(tool, srv, world):
    assert SCRIPT.exists(), "pip install -e . makes the floreyn-provision script"
    token = tomllib.loads((tool.home / "provision.toml").read_text())["token"]
    env = {"FLOREYN_SERVER": srv.base_url, "FLOREYN_TOKEN": token, "FLOREYN_PROVISION_HOME": str(tool.home)}
    merchant = world.merchant(category="groen", save_rate_bp=250)
    done = run(env, "merchant", "list", "--json")
    assert done.returncode == 0, done.stderr
    assert {m["merchant_id"]: m["save_rate_bp"] for m in json.loads(done.stdout)}[merchant] == 250
    readable = run(env, "merchant", "show", merchant)
    assert readable.returncode == 0 and "2,50 %" in readable.stdout
    member = json.loads(run(env, "--json", "member", "add", "--alias", "Via proces").stdout)["member_id"]
    assert srv.admin("GET", f"/v1/admin/members/{member}")["alias"] == "Via proces"


def test_the_console_script_exit_codes(tool, srv):
    dead = run(
        {
            "FLOREYN_SERVER": f"http://127.0.0.1:{free_port()}",
            "FLOREYN_TOKEN": "x",
            "FLOREYN_PROVISION_HOME": str(tool.home),
        },
        "report",
        "circulation",
        "--json",
    )
    assert dead.returncode == 3 and json.loads(dead.stderr)["error"] == "server_unreachable" and dead.stdout == ""
    wrong = run(
        {"FLOREYN_SERVER": srv.base_url, "FLOREYN_TOKEN": "fla_wrong", "FLOREYN_PROVISION_HOME": str(tool.home)},
        "report",
        "circulation",
    )
    assert wrong.returncode == 2 and wrong.stderr.startswith("fout: De server accepteert het beheertoken niet")
    usage = run({}, "kaart")
    assert usage.returncode == 1 and "ongeldige keuze: 'kaart' (kies uit" in usage.stderr
    assert "invalid" not in usage.stderr and "choose" not in usage.stderr
    helped = run({}, "--help")
    assert helped.returncode == 0 and "card" in helped.stdout and helped.stdout.startswith("gebruik: ")


def test_an_import_killed_half_way_finishes_on_rerun_without_doubles(tool, srv, tmp_path):
    """SIGKILL the real process mid-import; the same file again makes every member exactly once."""
    rows = 300
    tag = uuid.uuid4().hex[:6]
    path = tmp_path / "leden.csv"
    path.write_text("alias,name\n" + "".join(f"Kill {tag} {i},Lid {i}\n" for i in range(rows)))  # no ids: the server makes them
    token = tomllib.loads((tool.home / "provision.toml").read_text())["token"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLOREYN_")}
    env.update(FLOREYN_SERVER=srv.base_url, FLOREYN_TOKEN=token, FLOREYN_PROVISION_HOME=str(tool.home))

    def made() -> int:
        members = tool.ok("member", "list")
        return sum(m["alias"].startswith(f"Kill {tag} ") for m in members)

    proc = subprocess.Popen(
        [str(SCRIPT), "member", "import", str(path)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120  # the tool's start-up and first rows: seconds, over 30 s on a loaded machine
    while made() < 10 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    at_kill = made()
    assert 10 <= at_kill < rows, f"{at_kill} members when killed: the kill must land mid-import"
    rerun = run(env, "member", "import", str(path), "--json")
    assert rerun.returncode == 0, rerun.stderr
    summary = json.loads(rerun.stdout)
    assert summary["exists"] >= at_kill and summary["created"] + summary["exists"] == rows
    assert made() == rows  # every row once: none lost, none doubled
