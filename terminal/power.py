"""Turning the till off safely: from the manager's status screen, or by a UPS HAT's power button.

There is one shutdown path. "Shut down" on the screen runs [power]
shutdown_command (default `/usr/bin/systemctl poweroff`: logind asks polkit,
and the installer's rule deploy/terminal/50-floreyn-poweroff.rules lets the
`floreyn` user power off and nothing more; no sudo, no setuid, so the unit
keeps NoNewPrivileges). systemd then stops floreyn-terminal.service with SIGTERM,
the app closes its store and devices (app.py), and the system halts. A UPS
HAT's button or its low-battery signal (the kernel's gpio-shutdown overlay,
or the HAT's own daemon) starts the same `poweroff`. Even without any of
that, a committed sale survives a power cut: the store commits with
synchronous=FULL before the receipt prints (README "Power and durability").

No Kivy here: the app calls `PowerControl.power_off()` from a thread.
"""

from __future__ import annotations

import subprocess
from typing import Callable, Final, Sequence

from floreyn.terminal.engine.errors import TillError

DEFAULT_COMMAND: Final = ("/usr/bin/systemctl", "poweroff")
TIMEOUT_S: Final = 15.0  # systemctl returns once the shutdown job is queued
MAX_ARGS: Final = 16


class PowerOffFailed(TillError):
    code = "power_off_failed"
    msgid = "Shutting down failed ({detail}). The till keeps working; do not pull the plug."


class PowerOffUnavailable(TillError):
    code = "power_off_unavailable"
    msgid = "Shutting down from the screen is not set up on this till ([power] in terminal.toml)."


Runner = Callable[..., subprocess.CompletedProcess]


class PowerControl:
    def __init__(self, command: Sequence[str] = DEFAULT_COMMAND, *, run: Runner = subprocess.run) -> None:
        assert len(command) <= MAX_ARGS
        self.command = tuple(command)
        self._run = run

    @property
    def available(self) -> bool:
        return bool(self.command)

    def power_off(self) -> None:
        """Ask the system to power off; returns when it accepted (the app is then stopped by SIGTERM)."""
        if not self.command:
            raise PowerOffUnavailable()
        try:
            done = self._run(list(self.command), capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PowerOffFailed(detail=type(exc).__name__) from None
        if done.returncode != 0:
            why = (done.stderr or done.stdout or "").strip().splitlines()
            raise PowerOffFailed(detail=(why[-1] if why else f"exit {done.returncode}")[:120])
