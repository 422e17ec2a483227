"""`floreyn-server` as a real process on loopback, for tests that need the process itself (start-up, kill, two of them)."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import requests

from support import net

EXE = str(Path(sys.executable).parent / "floreyn-server")
START_TIMEOUT_S = 120  # the process imports the whole server: seconds here, over 30 s on a loaded 2-core machine


class ServerProcess:
    def __init__(self, cwd: Path, *args: str) -> None:
        self.cwd, self.args = cwd, args
        self.port = net.free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "ServerProcess":
        env = {k: v for k, v in os.environ.items() if k != "FLOREYN_DATA_DIR"}
        self.proc = subprocess.Popen([EXE, "--port", str(self.port), *self.args], cwd=self.cwd, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(self.proc.stdout.read().decode()[-2000:])
            try:
                if requests.get(self.url + "/v1/health", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.kill()  # a server left running would hold its port and, on PostgreSQL, the test database
        raise AssertionError(f"the server did not come up within {START_TIMEOUT_S} s")

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


def admin(url, token, path, body):
    resp = requests.post(url + path, json={"request_id": uuid.uuid4().hex, **body}, timeout=10,
                         headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200, resp.text
    return resp.json()
