"""python -m floreyn.terminal.app [--simulate] [--config F] [--data-dir D] [--windowed] [--size WxH] [--exit-after S]

The same app as `floreyn-terminal`, with a few switches for development and benchmarks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _size(text: str) -> tuple[int, int]:
    w, _, h = text.partition("x")
    return int(w), int(h)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m floreyn.terminal.app")
    p.add_argument("--config", type=Path)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--simulate", action="store_true")
    p.add_argument("--windowed", action="store_true", help="a window even on the console")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--size", dest="window_size", type=_size, help="window size, e.g. 1024x600")
    p.add_argument("--exit-after", type=float, help="stop this many seconds after the resting screen is up")
    p.add_argument("--sign-in-pin", help="sign in at start (with the simulated demo only; for benchmarks)")
    p.add_argument("--dim-after", type=float, help="dim after this many idle seconds (this run only)")
    args = p.parse_args(argv)
    from floreyn.terminal.app import main as app_main

    return app_main(args, exit_after_s=args.exit_after, sign_in_pin=args.sign_in_pin, dim_after_s=args.dim_after)


if __name__ == "__main__":
    sys.exit(main())
