"""Wiring an Engine from a TerminalConfig: key, store, printer, server client."""

from __future__ import annotations

import logging

from floreyn import keys
from floreyn.keys import PrivateKey
from floreyn.terminal.config import TerminalConfig
from floreyn.terminal.engine import events as ev
from floreyn.terminal.clock import Clock, SystemClock
from floreyn.terminal.engine.core import Engine
from floreyn.terminal.engine.online import OnlineGateway
from floreyn.terminal.engine.ports import Printer, SyncView
from floreyn.terminal.store import TerminalStore

log = logging.getLogger("floreyn.terminal")


def load_or_create_key(config: TerminalConfig) -> PrivateKey:
    """The terminal's record-signing key; made (0600) on first start, never replaced."""
    path = config.key_path
    if path.exists():
        return keys.load_private_key(path)
    key = keys.new_private_key()
    keys.save_private_key(key, path)
    log.warning("new terminal key %s, public %s: register it at the server", path, keys.public_raw(key).hex())
    return key


def make_server(config: TerminalConfig, key: PrivateKey,
                store: TerminalStore) -> tuple[OnlineGateway | None, SyncView | None]:
    """(OnlineGateway, SyncWorker) for [server], or (None, None) without one.

    The sync client (and with it requests) is imported here, not at module
    level: a terminal without a server starts without loading it.
    """
    if config.server is None:
        return None, None
    from floreyn.sync.client import SyncClient
    from floreyn.sync.worker import SyncWorker

    client = SyncClient(config.server.url, config.terminal_id, key,
                        keys.public_from_raw(bytes.fromhex(config.server.server_key)),
                        timeout_s=config.till.online_timeout_s)
    return OnlineGateway(client), SyncWorker(store, client, interval_s=config.server.sync_interval_s)


def build_engine(
    config: TerminalConfig,
    printer: Printer,
    *,
    clock: Clock | None = None,
    listener: ev.Listener = ev.ignore,
    defer_print: bool = False,
    with_server: bool = True,
) -> Engine:
    clock = clock or SystemClock()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    key = load_or_create_key(config)
    store = TerminalStore(config.db_path, config.terminal_id, clock)
    try:
        gateway, sync = make_server(config, key, store) if with_server else (None, None)
    except BaseException:
        store.close()
        raise
    return Engine(config, store, printer, key, clock=clock, gateway=gateway, sync=sync, listener=listener,
                  defer_print=defer_print)
