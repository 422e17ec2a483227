"""Issue 17 item 10: the till learns within seconds when the sync worker reaches the server or loses it (the
banner followed the next payment or a 60 s refresh, and said "geen server ingesteld" while syncs worked)."""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from till_helpers import fast_config

from floreyn import keys
from floreyn.server.testing import ServerThread, World
from floreyn.terminal.config import ServerConfig
from floreyn.terminal.drivers.virtual import VirtualPrinter
from floreyn.terminal.engine import events as ev
from floreyn.terminal.engine.build import build_engine
from floreyn.terminal.engine.service import TillService

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "provisioning"))
from tcp_proxy import CuttableProxy  # noqa: E402

FOLLOW_S = 5.0  # "within a few seconds": the sync interval below is 1 s, a failing round ends in ~1-2 s
WAIT_BOUND_S = 30.0  # generous bound for a loaded machine; the measured delay is asserted against FOLLOW_S * 3


@pytest.fixture
def world(tmp_path):
    with ServerThread(f"sqlite:///{tmp_path / 'server.db'}", tmp_path / "server") as srv:
        yield World(srv)


def wait_for(events: list, online: bool) -> float:
    start = time.monotonic()
    while time.monotonic() - start < WAIT_BOUND_S:
        if any(isinstance(e, ev.SyncChanged) and e.online is online for e in events):
            return time.monotonic() - start
        time.sleep(0.02)
    raise AssertionError(f"no SyncChanged(online={online}) within {WAIT_BOUND_S} s: {events}")


def test_the_till_hears_within_seconds_that_the_server_is_there_and_that_it_is_gone(world, tmp_path):
    srv = world.srv
    merchant_id = world.merchant()
    with CuttableProxy(srv.port) as proxy:
        terminal_id = world.new_id("T")
        cfg = replace(fast_config(tmp_path / "till"), terminal_id=terminal_id, merchant=None, issuer_keys=(),
                      server=ServerConfig(proxy.url, keys.public_raw(srv.public_key).hex(), sync_interval_s=1.0))
        engine = build_engine(cfg, VirtualPrinter())
        srv.admin("POST", "/v1/admin/terminals", {"terminal_id": terminal_id, "merchant_id": merchant_id,
                                                  "public_key": keys.public_raw(engine.public_key).hex()})
        assert engine.status().online is False  # a server is configured: never "no server configured"
        events: list = []
        service = TillService(engine, events.append)
        service.start().result(30)
        try:
            came = wait_for(events, True)
            assert engine.status().online is True
            proxy.cut()
            t0 = time.monotonic()
            went = wait_for(events, False)
            print(f"online after {came:.2f} s; offline {time.monotonic() - t0:.2f} s after the cut "
                  f"(bound {FOLLOW_S * 3:.0f} s)")
            assert went < FOLLOW_S * 3
            assert engine.status().online is False
        finally:
            service.stop()
