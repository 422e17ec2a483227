"""floreyn-terminal: the till app, or the scripted till with --script.

    floreyn-terminal                          the Kivy till (terminal/app), demo set-up
    floreyn-terminal --config terminal.toml   the Kivy till with real devices
    floreyn-terminal --simulate --script FILE [--config PATH] [--data-dir DIR] [--run-id ID]
                                              run a script, one JSON line per action
    floreyn-terminal --hash-pin [--config PATH]   read a PIN on stdin, print its hash for terminal.toml

Without --config, the built-in demo set-up is used (terminal/demo_setup.py).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from floreyn import keys
from floreyn.errors import FloreynError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="floreyn-terminal", description="Floreyn till terminal")
    p.add_argument("--config", type=Path, help="terminal.toml (default: the built-in demo set-up)")
    p.add_argument("--simulate", action="store_true", help="virtual card reader and printer")
    p.add_argument("--script", type=Path, help="run this script of actions (implies --simulate)")
    p.add_argument("--data-dir", type=Path, help="where the store, key and receipts live")
    p.add_argument("--run-id", help="names this run's requests; the same id resumes (default: from the script)")
    p.add_argument("--hash-pin", action="store_true", help="read a PIN from stdin and print its hash")
    return p


def default_data_dir() -> Path:
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "floreyn" / "demo"


def load(args: argparse.Namespace):  # noqa: ANN201 - TerminalConfig, imported lazily
    from floreyn.terminal.config import load_config
    from floreyn.terminal.demo_setup import demo_config

    if args.config is not None:
        return load_config(args.config, data_dir=args.data_dir)
    return demo_config(args.data_dir or default_data_dir())


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.hash_pin:
            return _hash_pin(args)
        if args.script is None:
            from floreyn.terminal.app import main as app_main  # kivy only here, never in the engine

            return int(app_main(args) or 0)
        return run_script(args)
    except FloreynError as exc:
        print(json.dumps({"fatal": True, **exc.to_dict()}, ensure_ascii=False), file=sys.stderr)
        return 2


def _hash_pin(args: argparse.Namespace) -> int:
    from floreyn.terminal.config import SecurityConfig, load_config
    from floreyn.pins import hash_pin

    security = load_config(args.config).security if args.config else SecurityConfig()
    pin = sys.stdin.readline().strip()
    try:
        print(hash_pin(pin, n=security.scrypt_n, r=security.scrypt_r, p=security.scrypt_p))
    except ValueError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    return 0


def run_script(args: argparse.Namespace) -> int:
    from floreyn.terminal import demo_setup
    from floreyn.terminal.engine.build import build_engine
    from floreyn.terminal.script import ScriptedTill, ScriptError, ScriptPrinter, load_script

    actions = load_script(args.script)
    config = load(args)
    printer = ScriptPrinter(config.columns, config.data_dir / "receipts")
    engine = build_engine(config, printer)
    try:
        if config.server is None:  # no server: the demo server signs a fresh offline snapshot
            data, sig = demo_setup.signed_demo_snapshot(config.terminal_id, engine.clock.wall_ms())
            engine.store.store_signed_snapshot(data, sig, demo_setup.demo_server_key().public_key())
        report = engine.start()
        if engine.sync is not None:  # upload leftovers and fetch the snapshot before the first action
            state = engine.sync.run_once()
            report["sync"] = {"online": state.online, "error": state.last_error}
        print(json.dumps({"started": report, "terminal_id": config.terminal_id,
                          "public_key": keys.public_raw(engine.public_key).hex()}), file=sys.stderr)
        run_id = args.run_id or "script-" + hashlib.sha256(args.script.read_bytes()).hexdigest()[:12]
        if not run_id.replace("-", "").replace("_", "").isalnum() or len(run_id) > 40:
            raise ScriptError(where="--run-id", detail="letters, digits, - and _ only, at most 40")
        progress = config.data_dir / "scripts" / f"{run_id}.progress.jsonl"
        progress.parent.mkdir(parents=True, exist_ok=True)
        till = ScriptedTill(engine, printer, run_id=run_id, card_payload=demo_setup.demo_payload, out=sys.stdout,
                            progress_path=progress)
        return till.run(actions)
    finally:
        engine.store.close()


if __name__ == "__main__":
    sys.exit(main())
