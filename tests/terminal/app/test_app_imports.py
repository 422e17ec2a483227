"""The card prompt's process leaves out what it does not need (issue 19 goal 5, the app's peak RSS).

Each library below costs megabytes of resident memory the moment it is imported, and a till
resting on "Houd de pas bij de lezer" has no use for it yet: the HTTP stack loads when the sync
client first talks to the server (sync/client.py SyncClient.session), the receipt renderer and
python-escpos with the real printer, nfcpy with the real reader. SQLAlchemy the till never uses:
its store is bare sqlite3 (terminal/store/db.py); only the server keeps it. Nor `cryptography`: the
till signs and verifies through libsodium (floreyn/keys.py); only the desk tool's encrypted key
files and card passwords need it. A top-level import anywhere on the app's path would bring one
back silently; this runs the real entry point and reads the process's own sys.modules when it
stops, after the card prompt was up.
"""
import os
import subprocess
import sys

import pytest

from support import kivy_env

pytestmark = pytest.mark.ui

# The HTTP stack (requests and what only it pulls in), the receipt renderer and its libraries, the NFC stack.
LAZY = ("requests", "urllib3", "charset_normalizer", "idna", "certifi", "floreyn.terminal.drivers.escpos_render",
        "escpos", "qrcode", "nfc", "usb")
# What the till's process never imports (the server's database layer: about 15 MB of RSS).
NEVER = ("sqlalchemy",)
# Signing and verifying go through libsodium (floreyn/keys.py): `cryptography` cost the card prompt 6.8 MB.
CRYPTOGRAPHY = ("cryptography",)

# The real `python -m floreyn.terminal.app` main, with the loaded module names printed at exit, and what Kivy
# holds then: the kv files it read, and what the app's screen manager draws before and after its screens.
DRIVER = r'''
import atexit, gc, os, sys


def kivy_state():
    from kivy.lang import Builder
    from kivy.uix.screenmanager import ScreenManager
    print("FLOREYN_KV " + " ".join(sorted(os.path.basename(f) for f in Builder.files)), flush=True)
    (sm,) = [o for o in gc.get_objects() if type(o) is ScreenManager]  # type(): no dead weak proxy is touched
    print("FLOREYN_SM_CANVAS " + " ".join(type(i).__name__ for c in (sm.canvas.before, sm.canvas.after)
                                          for i in c.children), flush=True)


atexit.register(kivy_state)
atexit.register(lambda: print("FLOREYN_MODULES " + " ".join(sorted(sys.modules)), flush=True))
from floreyn.terminal.app.__main__ import main
sys.exit(main(sys.argv[1:]))
'''


@pytest.fixture(scope="module")
def card_prompt(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """The output lines of the real app's process, which ran up to the card prompt and stopped (one run)."""
    tmp_path = tmp_path_factory.mktemp("card_prompt")
    kivy_env.configure_environment()
    env = {**os.environ, "FLOREYN_APP_REPORT_READY": "1", "KIVY_HOME": str(tmp_path / "kivy")}
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    done = subprocess.run([sys.executable, "-c", DRIVER, "--simulate", "--windowed", "--data-dir", str(tmp_path / "d"),
                           "--sign-in-pin", "1234", "--exit-after", "0.3"],
                          env=env, capture_output=True, text=True, timeout=90)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "FLOREYN_READY screen=idle" in done.stdout, done.stderr[-3000:]
    return done.stdout.splitlines()


def printed(card_prompt: list[str], tag: str) -> list[str]:
    return next(x for x in card_prompt if x.startswith(tag + " ") or x == tag).split()[1:]


@pytest.fixture(scope="module")
def loaded(card_prompt: list[str]) -> set[str]:
    """The module names of the real app's process at the card prompt."""
    names = set(printed(card_prompt, "FLOREYN_MODULES"))
    assert "kivy.core.window" in names and "floreyn.terminal.engine.service" in names  # the real till ran
    assert "floreyn.terminal.store.store" in names and "sqlite3" in names  # ... and opened its store
    return names


def imported(loaded: set[str], libraries: tuple[str, ...]) -> list[str]:
    return sorted(name for name in libraries if any(m == name or m.startswith(name + ".") for m in loaded))


def test_the_card_prompt_runs_without_the_http_printer_and_nfc_libraries(loaded):
    found = imported(loaded, LAZY)
    assert found == [], f"the card prompt's process imported {found}"


def test_the_till_runs_without_sqlalchemy(loaded):
    found = imported(loaded, NEVER)
    assert found == [], f"the till's process imported {found}"


def test_the_till_signs_and_verifies_without_cryptography(loaded):
    found = imported(loaded, CRYPTOGRAPHY)
    assert found == [], f"the till's process imported {found}"


def test_the_card_prompt_leaves_the_manager_screens_rules_unread(card_prompt):
    """terminal/app/root.py reads kv/manager.kv when the first manager screen is built (about 1 MB of parsed
    rules); the gallery and manager tests build those screens from them."""
    kv = printed(card_prompt, "FLOREYN_KV")
    assert {"widgets.kv", "screens.kv", "root.kv"} <= set(kv) and "manager.kv" not in kv


def test_the_screen_manager_does_not_clip_with_the_stencil_buffer(card_prompt):
    """kv/root.kv clears Kivy's stencil clip of the ScreenManager: no transition ever needs it."""
    assert printed(card_prompt, "FLOREYN_SM_CANVAS") == []
