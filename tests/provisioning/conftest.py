"""Fixtures for floreyn-provision: a real server on loopback, the CLI run in-process, an initialised desk.

- srv:   one real server (uvicorn over HTTP on 127.0.0.1, SQLite) per test module, from
         floreyn.server.testing, as the server's own tests use it.
- tool:  runs `floreyn-provision` in-process through main(argv) against `srv` with a
         module-wide tool folder already set up by `init` (card-issuing key under a
         passphrase, the desk's own admin token); returns exit code, stdout, stderr.
- fresh_tool: the same against `srv` with an empty tool folder (no init yet).
"""

from __future__ import annotations

import io
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from floreyn.provisioning.cli import main
from floreyn.server.testing import ServerThread, World

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "terminal" / "drivers"))  # the fake ESC/POS printer

PASSPHRASE = "correct horse battery staple"
ENV_VARS = ("FLOREYN_SERVER", "FLOREYN_TOKEN", "FLOREYN_PROVISION_HOME", "FLOREYN_READER", "FLOREYN_KEY_PASSPHRASE")


@dataclass
class Result:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def error(self) -> dict[str, Any]:
        """The JSON error line on stderr (with --json)."""
        return json.loads(self.err.strip().splitlines()[-1])


class Tool:
    """`floreyn-provision` with --home and --server filled in; every call is one main(argv)."""

    def __init__(self, home: Path, server: str, token: str | None = None) -> None:
        self.home, self.server, self.token = home, server, token

    def __call__(self, *argv: str, json_mode: bool = True, server: str | None = None) -> Result:
        full = ["--home", str(self.home), "--server", server or self.server]
        if self.token:
            full += ["--token", self.token]
        full += list(argv) + (["--json"] if json_mode else [])
        stdout, stderr = io.StringIO(), io.StringIO()
        code = main(full, stdout=stdout, stderr=stderr)
        return Result(code, stdout.getvalue(), stderr.getvalue())

    def ok(self, *argv: str, **kw: Any) -> Any:
        """Run and insist on exit 0; the parsed JSON result."""
        r = self(*argv, **kw)
        assert r.code == 0, f"{argv}: exit {r.code}\nstdout: {r.out}\nstderr: {r.err}"
        return r.json() if kw.get("json_mode", True) else r.out

    @property
    def passphrase_file(self) -> str:
        return str(self.home.parent / "passphrase")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


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
    t.ok("init", "--bootstrap-token-file", str(bootstrap), "--passphrase-file", t.passphrase_file,
         "--token-name", "desk-" + t.home.parent.name[-8:], "--cooperative", "Coöperatie Soesterkwartier")
    return t


@pytest.fixture
def fresh_tool(srv, tmp_path):
    return _new_tool(tmp_path / "fresh", srv)
