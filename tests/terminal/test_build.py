"""Wiring the engine from terminal.toml: every [server] setting reaches the part that uses it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from floreyn import keys
from floreyn.terminal.config import ServerConfig
from floreyn.terminal.demo_setup import demo_config
from floreyn.terminal.engine.build import make_server
from floreyn.terminal.clock import SystemClock
from floreyn.terminal.store import TerminalStore


def test_sync_interval_from_the_config_reaches_the_worker(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    server_key = keys.public_raw(keys.new_private_key()).hex()
    config = replace(config, server=ServerConfig(url="http://127.0.0.1:9", server_key=server_key, sync_interval_s=7.5))
    store = TerminalStore(config.db_path, config.terminal_id, SystemClock())
    try:
        gateway, worker = make_server(config, keys.new_private_key(), store)
        assert gateway is not None
        assert worker.interval_s == 7.5
    finally:
        store.close()


def test_no_server_means_no_sync_worker(tmp_path: Path) -> None:
    assert make_server(demo_config(tmp_path), keys.new_private_key(), None) == (None, None)
