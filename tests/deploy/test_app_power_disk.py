"""The till app: the SD-card warning where the shopkeeper sees it, and shutting down from the status screen.

The real app (offscreen Kivy) over the real engine; the disk usage is injected
(engine.disk), the shutdown command is a real process that leaves a mark.
"""
import sys

import pytest
from till_ui import TillUITest

from floreyn.terminal.engine.disk import MIB, DiskGuard, Usage
from floreyn.terminal.power import PowerControl

pytestmark = pytest.mark.ui


class TestPowerAndDisk(TillUITest):
    def set_free(self, free_bytes: int) -> None:
        self.engine.disk = DiskGuard(self.engine.config.data_dir, warn_mb=256, floor_mb=64,
                                     usage=lambda _p: Usage(8192 * MIB, 8192 * MIB - free_bytes, free_bytes))

    def open_status(self) -> None:
        self.tap(self.screen("idle").ids.manager)
        self.wait_screen("manager")
        self.tap(self.screen().ids.status)
        self.wait_screen("status")

    def test_low_then_full_storage_is_shown_and_a_sale_is_refused_in_dutch(self):
        self.sign_in("9999")
        self.set_free(200 * MIB)
        self.ctl.refresh_overview()
        self.wait(lambda: "Opslag bijna vol (200 MB vrij)" in self.banner())
        self.open_status()
        self.wait(lambda: "Opslag: bijna vol, 200 MB vrij" in self.shown_text())
        self.set_free(40 * MIB)
        self.ctl.refresh_overview()
        self.wait(lambda: "Opslag: VOL, 40 MB vrij" in self.shown_text())
        self.assert_touch_targets()
        self.shot("status-disk-full")
        self.tap(self.screen().ids.back)
        self.wait_screen("manager")
        self.ctl.back_to_idle()
        self.wait_screen("idle")
        self.wait(lambda: "Opslag vol" in self.banner())
        self.present("anna")
        self.wait_screen("member")
        self.tap(self.screen().ids.amount)
        self.wait_screen("amount")
        self.type_keys(self.screen().ids.keypad, "2")
        self.tap_text("Betalen")
        self.wait_screen("source")
        self.tap_text("Van eigen saldo")
        self.wait_screen("confirm")
        self.tap_text("Bevestigen")
        self.wait(lambda: "opslag van de kassa is vol" in self.ctl.message)
        self.assertEqual(self.records(), [])  # nothing written, nothing printed
        self.assertEqual(self.printer.docs, [])

    def test_shut_down_needs_a_second_tap_and_runs_the_command(self):
        mark = self.tmp / "powered-off"
        self.runtime.power = PowerControl([sys.executable, "-c", f"open({str(mark)!r}, 'a').write('x')"])
        self.sign_in("9999")
        self.open_status()
        self.assert_touch_targets()
        self.tap(self.screen().ids.power)
        self.wait(lambda: "Tik nogmaals op Uitzetten" in self.ctl.message)
        self.pump(0.3)
        self.assertFalse(mark.exists())  # one tap does nothing
        self.tap(self.screen().ids.power)
        self.wait(lambda: mark.exists(), timeout_s=10)
        self.assertEqual(mark.read_text(), "x")
        self.assertIn("wordt uitgezet", self.ctl.message)

    def test_a_failing_shutdown_is_said_and_the_till_keeps_working(self):
        refuse = "import sys; sys.stderr.write('Interactive authentication required.'); sys.exit(1)"
        self.runtime.power = PowerControl([sys.executable, "-c", refuse])  # what polkit says without the rule
        self.sign_in("9999")
        self.open_status()
        self.tap(self.screen().ids.power)
        self.tap(self.screen().ids.power)
        self.wait(lambda: "Uitzetten is niet gelukt (Interactive authentication required.)" in self.ctl.message,
                  timeout_s=10)
        self.tap(self.screen().ids.back)
        self.wait_screen("manager")

    def test_the_demo_never_powers_off(self):
        self.assertIsNone(self.runtime.power)  # build_runtime(simulate=True)
        self.sign_in("9999")
        self.open_status()
        self.tap(self.screen().ids.power)
        self.tap(self.screen().ids.power)
        self.wait(lambda: "demo" in self.ctl.message)


def test_sigterm_closes_the_till_cleanly(tmp_path):
    """What systemd does on poweroff (from the screen or a UPS HAT): SIGTERM. The app stops, the store closes:
    exit status 0 and the WAL folded into the database (it is removed only by a clean last close)."""
    import os
    import signal
    import subprocess
    import time

    from support import kivy_env

    kivy_env.configure_environment()
    env = {**os.environ, "FLOREYN_APP_REPORT_READY": "1", "KIVY_HOME": str(tmp_path / "kivy")}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "floreyn.terminal.app", "--simulate", "--windowed", "--data-dir",
                             str(data), "--sign-in-pin", "1234"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        line = ""
        while "FLOREYN_READY" not in line:
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()[-3000:]
            line = proc.stdout.readline()
        assert (data / "terminal.db-wal").exists()  # open: the store is in WAL mode
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert not (data / "terminal.db-wal").exists() and (data / "terminal.db").is_file()
