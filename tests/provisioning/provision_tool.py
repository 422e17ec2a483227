"""Running `floreyn-provision` in-process in tests: main(argv) with captured output."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from floreyn.provisioning.cli import main

PASSPHRASE = "correct horse battery staple"


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

    def __call__(
        self,
        *argv: str,
        json_mode: bool = True,
        server: str | None = None,
        stderr: io.StringIO | None = None,
        stdin: str = "",
    ) -> Result:
        """`stderr`: a stream of the test's own (see Hooked) to act on progress lines as they are printed;
        `stdin`: what the desk types at a question (nothing: every question goes unanswered)."""
        full = ["--home", str(self.home), "--server", server or self.server]
        if self.token:
            full += ["--token", self.token]
        full += list(argv) + (["--json"] if json_mode else [])
        stdout, stderr = io.StringIO(), stderr or io.StringIO()
        code = main(full, stdout=stdout, stderr=stderr, stdin=io.StringIO(stdin))
        return Result(code, stdout.getvalue(), stderr.getvalue())

    def ok(self, *argv: str, **kw: Any) -> Any:
        """Run and insist on exit 0; the parsed JSON result."""
        r = self(*argv, **kw)
        assert r.code == 0, f"{argv}: exit {r.code}\nstdout: {r.out}\nstderr: {r.err}"
        return r.json() if kw.get("json_mode", True) else r.out

    @property
    def passphrase_file(self) -> str:
        return str(self.home.parent / "passphrase")


class Hooked(io.StringIO):
    """stderr that calls `hooks[text]` (in the CLI's own thread) when a line containing `text` is printed."""

    def __init__(self, hooks: dict[str, Callable[[str], None]]) -> None:
        super().__init__()
        self.hooks = hooks

    def write(self, text: str) -> int:
        n = super().write(text)
        for key, fn in self.hooks.items():
            if key in text:
                fn(text)
        return n
