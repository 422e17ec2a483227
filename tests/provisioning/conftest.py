"""Fixtures for floreyn-provision: a real server on loopback, the CLI run in-process, an initialised desk.

- srv:   one real server (uvicorn over HTTP on 127.0.0.1, SQLite) per test module, from
         floreyn.server.testing, as the server's own tests use it.
- tool:  runs `floreyn-provision` in-process through main(argv) against `srv` with a
         module-wide tool folder already set up by `init` (card-issuing key under a
         passphrase, the desk's own admin token); returns exit code, stdout, stderr.
- fresh_tool: the same against `srv` with an empty tool folder (no init yet).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from floreyn.server.testing import ServerThread, World

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "terminal" / "drivers"))  # the fake ESC/POS printer
sys.path.insert(0, str(HERE))  # provision_tool

from provision_tool import PASSPHRASE, Tool  # noqa: E402

ENV_VARS = ("FLOREYN_SERVER", "FLOREYN_TOKEN", "FLOREYN_PROVISION_HOME", "FLOREYN_READER", "FLOREYN_KEY_PASSPHRASE")


@pytest.fixture(scope="session", autouse=True)
def _clean_env():
    """No FLOREYN_* setting of the machine running the tests leaks in (module fixtures run the tool too)."""
    with pytest.MonkeyPatch.context() as mp:
        for name in ENV_VARS:
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    db = tmp_path_factory.mktemp("db") / "floreyn.db"
    with ServerThread(f"sqlite:///{db}", tmp_path_factory.mktemp("server-data")) as server:
        yield server


@pytest.fixture(scope="module")
def world(srv):
    return World(srv)


def _new_tool(base: Path, srv: ServerThread) -> Tool:
    base.mkdir(parents=True, exist_ok=True)
    (base / "passphrase").write_text(PASSPHRASE + "\n")
    return Tool(base / "home", srv.base_url)


@pytest.fixture(scope="module")
def tool(srv, tmp_path_factory):
    t = _new_tool(tmp_path_factory.mktemp("desk"), srv)
    bootstrap = srv.config.data_dir / "admin_token"
    t.ok(
        "init",
        "--bootstrap-token-file",
        str(bootstrap),
        "--passphrase-file",
        t.passphrase_file,
        "--token-name",
        "desk-" + t.home.parent.name[-8:],
        "--cooperative",
        "Coöperatie Soesterkwartier",
    )
    return t


@pytest.fixture
def fresh_tool(srv, tmp_path):
    return _new_tool(tmp_path / "fresh", srv)
