"""Fixtures for the till engine tests: a fake clock, a cheap-PIN config, a started engine."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # till_helpers

from till_helpers import fast_config, open_till  # noqa: E402

from floreyn.terminal.config import TerminalConfig  # noqa: E402
from floreyn.terminal.clock import FakeClock  # noqa: E402


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def config(tmp_path: Path) -> TerminalConfig:
    return fast_config(tmp_path / "data")


@pytest.fixture
def till(config: TerminalConfig, clock: FakeClock):  # noqa: ANN201
    t = open_till(config, clock)
    yield t
    try:
        t.store.close()
    except Exception:  # noqa: BLE001 - a test may have closed it already
        pass
