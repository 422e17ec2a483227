"""The till engine: everything a till does, without a screen.

The Kivy app (terminal/app/) is handed a `TillService` (a worker thread in
front of an `Engine`) and reacts to its events; the scripted till drives an
`Engine` directly. Nothing here imports kivy.

Exports resolve lazily so that `floreyn.terminal.config` and the store can
import engine.errors / engine.clock without importing the whole engine.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "Engine": "floreyn.terminal.engine.core",
    "TillService": "floreyn.terminal.engine.service",
    "build_engine": "floreyn.terminal.engine.build",
    "MemberSummary": "floreyn.terminal.engine.model",
    "Quote": "floreyn.terminal.engine.model",
    "TxResult": "floreyn.terminal.engine.model",
    "TillStatus": "floreyn.terminal.engine.model",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(name)
    import importlib

    return getattr(importlib.import_module(module), name)
