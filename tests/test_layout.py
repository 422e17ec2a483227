"""The layout every tool understands: floreyn/<role> links to the role's top-level folder.

Why links (docs/architecture.md): the repository keeps terminal/, sync/, server/ and
provisioning/ at the top, and a link inside floreyn/ makes each the real path of
floreyn.<role>, so mypy, pyright, IDEs and setuptools resolve every import from a plain
checkout without a package-dir mapping. The bare names are refused, so no module is
ever loaded twice under two names.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ROLES = ("sync", "server", "provisioning", "terminal")


@pytest.mark.parametrize("role", ROLES)
def test_each_role_folder_is_the_real_path_of_its_subpackage(role: str) -> None:
    link = ROOT / "floreyn" / role
    assert link.is_symlink(), f"floreyn/{role} must be a link to ../{role}"
    assert link.readlink() == Path("..") / role  # relative: works in any clone
    assert link.resolve() == (ROOT / role).resolve()


@pytest.mark.parametrize("role", ROLES)
def test_the_bare_name_is_refused_so_nothing_loads_twice(role: str) -> None:
    # From the repository root (on sys.path as ''), `import sync` would otherwise load
    # sync/record.py a second time as sync.record beside floreyn.sync.record.
    run = subprocess.run(
        [sys.executable, "-c", f"import floreyn.{role}\nimport {role}"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert run.returncode == 1
    assert f"import this folder as floreyn.{role}, not as {role}" in run.stderr


def test_package_dir_mapping_is_gone() -> None:
    # A mapping would make the wheel differ from what the tools see in the checkout.
    import tomllib

    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "package-dir" not in setuptools
