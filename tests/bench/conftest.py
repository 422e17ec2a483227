"""What the tests of bench/'s scripts share: importing a script as the scripts import each other."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Callable, Iterator

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.fixture
def import_bench(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., ModuleType]]:
    """import_bench(name, *siblings): bench/NAME.py imported afresh, bench/ first on sys.path as when it runs,
    with the bench modules it imports by name (siblings) fresh too; all of them gone again after the test."""
    monkeypatch.syspath_prepend(str(BENCH))
    loaded: list[str] = []

    def load(name: str, *siblings: str) -> ModuleType:
        for module in (*siblings, name):
            monkeypatch.delitem(sys.modules, module, raising=False)
            loaded.append(module)
        return importlib.import_module(name)

    yield load
    for module in loaded:
        sys.modules.pop(module, None)
