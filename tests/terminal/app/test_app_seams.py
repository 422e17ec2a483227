"""The app's seams with the engine are typed: the type checker, not a tap, finds a renamed call.

- The .kv files only read the controller's prepared Kivy properties; they call
  nothing on it (buttons are wired in screens.py, where mypy sees the calls).
- mypy over the app and TillService passes, and fails when an engine method,
  an EngineApi method or a controller method used by a screen is renamed on
  one side only (checked on a copy of terminal/, the checkout is not touched).
"""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from kivy.properties import Property

from floreyn.terminal.app import root as root_module
from floreyn.terminal.app.controller import Controller

REPO = Path(__file__).resolve().parents[3]
CTL_READ = re.compile(r"\b(?:root|self)\.ctl\.([A-Za-z_][A-Za-z_0-9]*)(\s*\()?")
CHECKED = ["terminal/engine", "terminal/app/controller.py", "terminal/app/manager.py",  # the engine, the app's seams
           "terminal/app/screens.py", "terminal/app/services.py", "terminal/app/runtime.py"]
MYPY_TIMEOUT_S = 600  # a cold mypy run over sqlalchemy and the till takes about a minute on a loaded Pi-class box


def test_kv_files_read_only_prepared_controller_properties():
    reads: set[str] = set()
    for name in (*root_module.KV_FILES, root_module.MANAGER_KV):
        for m in CTL_READ.finditer((root_module.KV_DIR / name).read_text(encoding="utf-8")):
            assert m.group(2) is None, f"{name} calls ctl.{m.group(1)}(); wire the button in screens.py"
            reads.add(m.group(1))
    assert {"title_text", "member_alias", "receipt_line", "status_text"} <= reads
    not_props = sorted(r for r in reads if not isinstance(getattr(Controller, r, None), Property))
    assert not_props == [], f"kv reads controller attributes that are not Kivy properties: {not_props}"


def _tree(tmp_path: Path) -> Path:
    """floreyn/ as the wheel lays it out: core files and role folders linked, terminal/ copied (to edit)."""
    pkg = tmp_path / "floreyn"
    pkg.mkdir()
    for item in (REPO / "floreyn").iterdir():  # the core's files, and links to the role folders
        if item.name not in ("__pycache__", "terminal"):
            (pkg / item.name).symlink_to(item.resolve())
    shutil.copytree(REPO / "terminal", pkg / "terminal", ignore=shutil.ignore_patterns("__pycache__"))
    return pkg


def _mypy(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    files = [str(Path("floreyn") / f) for f in CHECKED]
    return subprocess.run(
        [sys.executable, "-m", "mypy", "--ignore-missing-imports", "--follow-imports=silent", "--no-error-summary",
         "--cache-dir", str(tmp_path / ".mypy_cache"), *files],
        cwd=tmp_path, capture_output=True, text=True, timeout=MYPY_TIMEOUT_S)


def _rename(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, (path, old)
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One copy for all cases (each restores what it renamed), so mypy's cache stays warm."""
    root = tmp_path_factory.mktemp("seams")
    _tree(root)
    clean = _mypy(root)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    return root


@pytest.mark.parametrize("where, old, new, reported", [
    ("engine/quoting.py", "def quote_spend(", "def quote_pay(", "quote_spend"),  # Engine, called by TillService
    ("engine/api.py", "def find_payment(", "def find_receipt(", "find_payment"),  # EngineApi, called by the app
    ("app/controller.py", "def enter_amount(", "def open_amount(", "enter_amount"),  # wired in screens.py
    ("app/manager.py", "def start_void(", "def begin_void(", "start_void"),  # wired in screens.py
])
def test_a_rename_on_one_side_of_a_seam_fails_the_type_check(tree, where, old, new, reported):
    path = tree / "floreyn" / "terminal" / where
    original = path.read_text(encoding="utf-8")
    _rename(path, old, new)
    try:
        broken = _mypy(tree)
    finally:
        path.write_text(original, encoding="utf-8")
    assert broken.returncode == 1 and reported in broken.stdout, broken.stdout + broken.stderr
