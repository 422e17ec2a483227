"""python-escpos's printer profiles read from a pickle kept between starts, not parsed again at each one.

python-escpos 3.1 reads its capabilities.json (every printer profile) when `escpos.capabilities` is first
imported, with PyYAML's pure-Python parser, and pickles the result into a fresh mkdtemp() folder: every
process parses it again. A till with a real receipt printer imports it at start (terminal/drivers/factory.py
checks the configured profile), so its card prompt paid 0.3-0.5 s of start-up here (more on a Pi) and 1.7 MB of
resident memory the parse leaves in the heap (issue 19 goal 5).

The library reads an up-to-date pickle from ESCPOS_CAPABILITIES_PICKLE_DIR instead of the JSON. This writes
that pickle, the way the library would (same name, same protocol), from the same JSON read with the json module,
atomically: the library writes its own in place, so a second process could read it half-written. The pickle is
kept newer than the JSON, so the library never writes into the shared folder itself. A pickle runs code when
loaded: the folder is made 0700, the till user's own (on a till it is under /var/lib/floreyn, 0700 too).
"""

from __future__ import annotations

import json
import os
import pickle
import platform
from importlib import resources
from pathlib import Path

PICKLE_DIR_ENV = "ESCPOS_CAPABILITIES_PICKLE_DIR"  # python-escpos reads these two (escpos/capabilities.py)
CAPABILITIES_FILE_ENV = "ESCPOS_CAPABILITIES_FILE"
PICKLE_PROTOCOL = 2  # the library's own


def default_folder() -> Path:
    """$XDG_CACHE_HOME/floreyn, else ~/.cache/floreyn (the till's service: /var/lib/floreyn/.cache/floreyn)."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "floreyn"


def pickle_path(folder: Path) -> Path:
    return folder / f"{platform.python_version()}.capabilities.pickle"  # the library's name for it


def use_pickled_capabilities(folder: Path | None = None) -> Path | None:
    """Point python-escpos at a pickle of its profiles in `folder` (default_folder()), written first if missing
    or older than the library's JSON. Call before `escpos.capabilities` is imported; returns the pickle's path,
    or None when the environment already chose (either variable set) or the folder cannot be written (the
    library then parses its JSON, as before)."""
    if PICKLE_DIR_ENV in os.environ or CAPABILITIES_FILE_ENV in os.environ:
        return None
    folder = folder or default_folder()
    target = pickle_path(folder)
    source = resources.files("escpos") / "capabilities.json"
    try:
        with resources.as_file(source) as json_file:
            if not _newer(target, json_file):
                folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                _write_atomically(target, pickle.dumps(json.loads(json_file.read_text(encoding="utf-8")),
                                                       protocol=PICKLE_PROTOCOL))
            if not _newer(target, json_file):  # a JSON dated in the future: the library would rewrite it in place
                return None
    except OSError:
        return None
    os.environ[PICKLE_DIR_ENV] = str(folder)
    return target


def _newer(target: Path, json_file: Path) -> bool:
    """True if the library would load `target` (it parses the JSON again when that is the newer file)."""
    return target.exists() and target.stat().st_mtime >= json_file.stat().st_mtime


def _write_atomically(target: Path, data: bytes) -> None:
    part = target.with_name(f".{target.name}.{os.getpid()}")
    try:
        part.write_bytes(data)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)
