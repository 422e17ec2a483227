"""The shopkeeper's screen settings (language, dimming), kept in a small JSON file in the data folder.

Not terminal.toml: these change at the till, by touch, and must survive a
restart; the till's business settings stay in terminal.toml and the snapshot.
A damaged or foreign file is ignored (defaults), never a reason not to start.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from floreyn.terminal.app.i18n import DEFAULT_LANGUAGE, LANGUAGES

log = logging.getLogger(__name__)

DIM_CHOICES_S = (30, 60, 120, 300, 0)  # 0: never dim
MAX_SETTINGS_BYTES = 4096


@dataclass(frozen=True)
class AppSettings:
    lang: str = DEFAULT_LANGUAGE
    dim_after_s: int = 60
    done_timeout_s: int = 8  # the "done" screen returns to the card prompt after this
    # The member screen (a card shown, nothing typed yet) returns to the card prompt after this long
    # without a touch, so a walked-away customer's balance does not stay on screen; 0: never.
    member_timeout_s: int = 60

    def checked(self) -> AppSettings:
        lang = self.lang if self.lang in LANGUAGES else DEFAULT_LANGUAGE
        dim = self.dim_after_s if self.dim_after_s in DIM_CHOICES_S else 60
        done = self.done_timeout_s if type(self.done_timeout_s) is int and 2 <= self.done_timeout_s <= 120 else 8
        member = self.member_timeout_s
        member = member if type(member) is int and (member == 0 or 10 <= member <= 600) else 60
        return replace(self, lang=lang, dim_after_s=dim, done_timeout_s=done, member_timeout_s=member)


def load_settings(path: Path | None) -> AppSettings:
    if path is None:
        return AppSettings()
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_SETTINGS_BYTES:
            raise ValueError("too large")
        doc = json.loads(raw)
        known = {k: v for k, v in doc.items() if k in AppSettings.__dataclass_fields__}
        return AppSettings(**known).checked()
    except FileNotFoundError:
        return AppSettings()
    except (OSError, ValueError, TypeError, AttributeError) as exc:
        log.warning("ignoring app settings %s: %s", path, exc)
        return AppSettings()


def save_settings(path: Path | None, settings: AppSettings) -> None:
    """Write atomically (temp file + rename): a power cut leaves the old or the new file, not half."""
    if path is None:
        return
    data = json.dumps(asdict(settings.checked()), sort_keys=True).encode()
    assert len(data) <= MAX_SETTINGS_BYTES
    tmp = path.with_suffix(".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # a read-only card must not stop the till; the setting lasts until restart
        log.warning("could not save app settings %s: %s", path, exc)
