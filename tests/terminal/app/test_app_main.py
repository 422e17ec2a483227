"""The real entry points start the till with a real window (SDL offscreen here) and stop cleanly.

These fail, never skip, when the UI cannot start: a broken graphics stack in CI is a failure.
"""
import os
import subprocess
import sys

import pytest

from support import kivy_env

pytestmark = pytest.mark.ui


def run_app(args, tmp_path, **env):
    kivy_env.configure_environment()
    environ = {**os.environ, "FLOREYN_APP_REPORT_READY": "1", "KIVY_HOME": str(tmp_path / "kivy"), **env}
    environ.pop("DISPLAY", None)
    environ.pop("WAYLAND_DISPLAY", None)
    return subprocess.run([sys.executable, *args], env=environ, capture_output=True, text=True, timeout=90)


def test_module_entry_signs_in_and_reaches_the_card_prompt(tmp_path):
    data = tmp_path / "data"
    done = run_app(["-m", "floreyn.terminal.app", "--simulate", "--windowed", "--size", "1024x600",
                    "--data-dir", str(data), "--sign-in-pin", "1234", "--exit-after", "0.3"], tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FLOREYN_READY screen=idle" in done.stdout, done.stderr[-3000:]
    assert (data / "terminal.db").is_file()


def test_floreyn_terminal_cli_without_configuration_starts_the_demo(tmp_path):
    data = tmp_path / "data"
    done = run_app(["-m", "floreyn.terminal.cli", "--data-dir", str(data)], tmp_path,
                   FLOREYN_APP_EXIT_AFTER_S="0.3")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FLOREYN_READY screen=signin" in done.stdout, done.stderr[-3000:]


def test_automatic_sign_in_needs_the_virtual_reader():
    kivy_env.get_window()  # before anything imports kivy.core.window
    from floreyn.terminal.app.app import TillApp
    from floreyn.terminal.app.runtime import EventRelay
    from floreyn.terminal.app.services import Runtime

    real = Runtime(service=None, config=None, printer=None, reader=object(), present=None)
    with pytest.raises(ValueError, match="simulated demo only"):
        TillApp(real, EventRelay(), sign_in_pin="1234")
