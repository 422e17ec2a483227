"""The installed console script, run as a real process, configured through the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
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
    assert usage.returncode == 1 and "invalid choice" in usage.stderr
    helped = run({}, "--help")
    assert helped.returncode == 0 and "card" in helped.stdout
