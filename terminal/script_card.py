"""A virtual card kept in a file, so a script can walk one card through several till processes.

`present` with "card_file": PATH reads the card's memory from PATH (JSON:
the signed payload and the trail pages, hex), or, when the file does not
exist yet, starts from the named demo card with a blank trail. Whenever the
till writes the card's trail, the file is replaced atomically (write a
temporary file, fsync, rename), so a till killed mid-write leaves the old
card or the new one - as a card pulled away does (floreyn/cardtrail.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Final

from floreyn import cardtrail
from floreyn.terminal.drivers.virtual import MemoryTrail

FILE_FORMAT: Final = "floreyn-virtual-card/1"
MAX_FILE_BYTES: Final = 4_096  # a card is 144 bytes of memory; anything larger is not one


class CardFileError(ValueError):
    """The card file is unreadable; the scripted till reports it as a script error."""


def trail_dict(entry: cardtrail.Trail | None) -> dict[str, object] | None:
    """A trail entry for the script's JSON output (None: blank or wiped)."""
    if entry is None:
        return None
    return {"spent_cents": entry.spent_cents, "state_version": entry.state_version, "till": entry.till,
            "till_seq": entry.till_seq, "seq": entry.seq}


def _save(path: Path, payload: bytes, area: bytes) -> None:
    data = json.dumps({"format": FILE_FORMAT, "payload_hex": payload.hex(), "trail_hex": area.hex()},
                      sort_keys=True).encode()
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class VirtualCard:
    path: Path
    payload: bytes
    trail: MemoryTrail

    @classmethod
    def load(cls, path: Path, demo_payload: Callable[[], bytes | None], *, where: str) -> VirtualCard:
        if path.exists():
            try:
                raw = path.read_bytes()
                if len(raw) > MAX_FILE_BYTES:
                    raise CardFileError(f"{path}: larger than a card")
                data = json.loads(raw)
                if data.get("format") != FILE_FORMAT:
                    raise CardFileError(f"{path}: not a {FILE_FORMAT} file")
                payload, area = bytes.fromhex(data["payload_hex"]), bytes.fromhex(data["trail_hex"])
            except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise CardFileError(f"{where}: card file {path}: {exc}") from None
        else:
            named = demo_payload()
            if named is None:
                raise CardFileError(f'{where}: card file {path} does not exist; name the demo card with "card"')
            payload, area = named, cardtrail.blank_area()
            _save(path, payload, area)
        return cls(path, payload, MemoryTrail(area, on_write=lambda new: _save(path, payload, new)))
