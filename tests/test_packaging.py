"""The wheel ships everything the source tree has: every module, layout, catalog, font and migration.

Editable installs hide a missing entry in pyproject.toml (they read the
folders directly), so this builds a real wheel and compares.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = {"floreyn": "floreyn", "sync": "floreyn/sync", "server": "floreyn/server",
           "provisioning": "floreyn/provisioning", "terminal": "floreyn/terminal"}
SHIPPED_SUFFIXES = {".py", ".kv", ".po", ".mo", ".ttf", ".mako", ".txt"}


def expected_files() -> set[str]:
    out = set()
    for folder, target in FOLDERS.items():
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in SHIPPED_SUFFIXES and "__pycache__" not in path.parts:
                if path.suffix == ".txt" and "fonts" not in path.parts:
                    continue  # notes beside the code, not package data
                out.add(f"{target}/{path.relative_to(ROOT / folder).as_posix()}")
    return out


def test_every_package_folder_is_listed() -> None:
    # setuptools copies a folder left out of `packages` anyway (with a warning) in some
    # versions and drops it in others; the list must be whole either way.
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {
        ".".join(filter(None, [FOLDERS[folder].replace("/", "."),
                               *init.parent.relative_to(ROOT / folder).parts]))
        for folder in FOLDERS
        for init in (ROOT / folder).rglob("__init__.py")
    }
    assert found <= listed, f"add to [tool.setuptools] packages: {sorted(found - listed)}"


def test_wheel_contains_every_module_and_data_file(tmp_path: Path) -> None:
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path),
         str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    assert build.returncode == 0
    (wheel,) = tmp_path.glob("floreyn-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(expected_files() - names)
    assert not missing, f"pyproject.toml does not ship: {missing}"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("floreyn-terminal", "floreyn-server", "floreyn-provision"):
        assert script in text
