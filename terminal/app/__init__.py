"""floreyn.terminal.app: the touchscreen till (Kivy). The only package that imports kivy.

Entry point: `main(options)`; the CLI (floreyn-terminal, terminal/cli.py)
calls it when there is no --script. Importing this package does not import
Kivy: main() first sets the Kivy/SDL environment (kivy_setup), then imports.
"""

from __future__ import annotations

from typing import Any


def main(options: Any = None, *, exit_after_s: float | None = None, sign_in_pin: str | None = None,
         dim_after_s: float | None = None) -> int:
    """Run the till until it is closed; returns the exit status.

    `options` is the CLI's argparse Namespace (attributes used: config,
    data_dir, simulate; optional: fullscreen, window_size; without them the window
    follows terminal.toml [display]), a TerminalConfig
    (runs it with the virtual devices), or None (the built-in demo,
    simulated). `exit_after_s` (or $FLOREYN_APP_EXIT_AFTER_S) stops the app
    that many seconds after its resting screen is up (benchmarks and smoke tests).
    """
    import os

    from floreyn.terminal.app import kivy_setup, memory

    memory.tune_malloc()  # first: before the demo set-up's scrypt frees its block and before any thread starts

    if exit_after_s is None and os.environ.get("FLOREYN_APP_EXIT_AFTER_S"):  # smoke tests of the real CLI
        exit_after_s = float(os.environ["FLOREYN_APP_EXIT_AFTER_S"])

    from floreyn.terminal.app.runtime import load_config  # no Kivy yet: the window's size comes from [display]

    config, simulate = load_config(options)
    size, fullscreen = kivy_setup.window_choice(config.display, size=getattr(options, "window_size", None),
                                                fullscreen=getattr(options, "fullscreen", None))
    kiosk = None if not getattr(options, "windowed", False) else False
    kivy_setup.prepare_environment(kiosk=kiosk, size=size, fullscreen=fullscreen)
    kiosk_now = kivy_setup.on_console() if kiosk is None else kiosk

    import kivy  # noqa: F401  (after the environment: Kivy reads it at import)

    kivy_setup.configure_input(kiosk=kiosk_now)
    from floreyn.terminal.app.runtime import build_runtime

    runtime, relay = build_runtime(config, simulate=simulate)
    from floreyn.terminal.app.app import TillApp

    try:
        TillApp(runtime, relay, exit_after_s=exit_after_s, sign_in_pin=sign_in_pin, dim_after_s=dim_after_s).run()
    finally:
        runtime.close()  # idempotent: on_stop normally did it already
    return 0


__all__ = ["main"]
