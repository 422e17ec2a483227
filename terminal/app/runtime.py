"""Building the Runtime the app is handed: config, devices, engine, TillService.

No Kivy here, so the benchmark and tests can build the same till the app
runs. With --simulate (or with no configuration at all) the devices are the
virtual ones and the demo cards can be laid on the reader from the screen.
"""

from __future__ import annotations

import collections
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from floreyn.terminal.app.services import DemoCard, Runtime

if TYPE_CHECKING:  # imported where used, so the app's import stays light
    from floreyn.terminal.config import TerminalConfig
    from floreyn.terminal.drivers.base import CardReader, ReceiptPrinter, VerifyPayload
    from floreyn.terminal.engine.core import Engine
    from floreyn.terminal.engine.events import Event
    from floreyn.terminal.power import PowerControl

log = logging.getLogger(__name__)

EVENT_BUFFER_LIMIT = 64  # events that arrive before the UI listens (reader start-up); older ones are dropped


class EventRelay:
    """The TillService's listener: forwards engine events to whoever attaches (the app).

    Runs on the worker and reader threads; it only hands events over. Events
    before `attach` are kept (bounded) and delivered on attach.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._target: Callable[[Event], None] | None = None
        self._early: collections.deque[Event] = collections.deque(maxlen=EVENT_BUFFER_LIMIT)

    def __call__(self, event: Event) -> None:
        with self._lock:
            target = self._target
            if target is None:
                self._early.append(event)
                return
        target(event)

    def attach(self, target: Callable[[Event], None] | None) -> None:
        with self._lock:
            self._target = target
            early, self._early = list(self._early), collections.deque(maxlen=EVENT_BUFFER_LIMIT)
        if target is not None:
            for event in early:
                target(event)


def load_config(options: object) -> tuple[TerminalConfig, bool]:
    """(TerminalConfig, simulate) from an argparse Namespace (the CLI's), a TerminalConfig, or None."""
    from floreyn.terminal.config import TerminalConfig

    if isinstance(options, TerminalConfig):
        return options, True
    config_path = getattr(options, "config", None)
    data_dir = getattr(options, "data_dir", None)
    simulate = bool(getattr(options, "simulate", False)) or config_path is None
    if config_path is not None:
        from floreyn.terminal.config import load_config as load

        return load(Path(config_path), data_dir=Path(data_dir) if data_dir else None), simulate
    from floreyn.terminal.cli import default_data_dir
    from floreyn.terminal.demo_setup import demo_config

    return demo_config(Path(data_dir) if data_dir else default_data_dir()), True


def build_runtime(config: TerminalConfig, *, simulate: bool, relay: EventRelay | None = None,
                  engine_factory: Callable[..., Engine] | None = None) -> tuple[Runtime, EventRelay]:
    """Wire devices, engine and TillService for `config`; nothing is started yet."""
    from floreyn.terminal import demo_setup
    from floreyn.terminal.engine.build import build_engine
    from floreyn.terminal.engine.service import TillService

    relay = relay or EventRelay()
    closers: list[Callable[[], None]] = []
    printer = _printer(config, simulate)
    closers.append(printer.close)
    engine = (engine_factory or build_engine)(config, printer, listener=relay)
    closers.append(engine.store.close)
    try:
        if config.server is None:  # as the scripted till: the demo server signs a fresh offline snapshot
            data, sig = demo_setup.signed_demo_snapshot(config.terminal_id, engine.clock.wall_ms())
            engine.store.store_signed_snapshot(data, sig, demo_setup.demo_server_key().public_key())
        reader, present = _reader(config, simulate, engine.verify_payload)
        service = TillService(engine, relay, reader=reader)
    except BaseException:
        for close in reversed(closers):
            close()
        raise
    cards: tuple[DemoCard, ...] = ()
    if present is not None:
        cards = tuple(DemoCard(str(i + 1), name, demo_setup.demo_payload(name))
                      for i, name in enumerate(demo_setup.DEMO_CARD_NAMES[:9]))
    runtime = Runtime(service=service, config=config, printer=printer, reader=reader, present=present,
                      demo_cards=cards, settings_path=config.data_dir / "app_settings.json", closers=closers,
                      power=None if simulate else _power(config))
    return runtime, relay


def _power(config: TerminalConfig) -> PowerControl:
    from floreyn.terminal.power import PowerControl

    return PowerControl(config.power.shutdown_command)


def _printer(config: TerminalConfig, simulate: bool) -> ReceiptPrinter:
    """--simulate: the virtual printer whatever terminal.toml says; else the drivers' factory."""
    out_dir = config.data_dir / "receipts"
    if simulate:
        from floreyn.terminal.drivers.virtual import VirtualPrinter

        return VirtualPrinter(columns=config.columns, out_dir=out_dir)
    from floreyn.terminal.drivers import factory

    return factory.make_printer(config.drivers.printer, out_dir=out_dir)


def _reader(config: TerminalConfig, simulate: bool, verify: VerifyPayload
            ) -> tuple[CardReader, Callable[[bytes], None] | None]:
    """(reader, present): `present` lays a card on a virtual reader (the demo card picker), else None."""
    from floreyn.terminal.drivers.virtual import VirtualCardReader

    reader: CardReader
    if simulate:
        reader = VirtualCardReader(verify)
    else:
        from floreyn.terminal.drivers import factory

        reader = factory.make_reader(config.drivers.reader, verify)
    return reader, (reader.present if isinstance(reader, VirtualCardReader) else None)
