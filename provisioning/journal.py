"""Request ids stored before sending, so rerunning an interrupted command never doubles it.

Every admin write carries a client-made request id; the server applies an
id at most once and answers a repeat with the stored result ("exists").
Before a write is sent, the tool stores its id on disk under a name derived
from the command (action + parameters). When the server answers, the entry
is removed. When it does not (the network failed, the process was killed),
the entry stays, and running the *same* command again finds it and sends
the same id: a top-up that did reach the server is then answered "exists"
and not booked a second time.

A member's personal data is not written into an entry (the key, a hash of
the whole command, still finds an identical rerun). An entry also carries a
little state for multi-step commands: `card issue` keeps the new card id in
it, so a rerun writes the same card id instead of inventing another one.

CSV imports do not use the journal: their request ids are derived from the
file's content and the row (see csvin.py), which survives even the loss of
this folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Mapping

from floreyn.provisioning.errors import local
from floreyn.provisioning.tomlw import write_private

PERSONAL: Final = frozenset({"name", "email", "phone", "address"})  # of a member: never kept on the desk's disk
MAX_PENDING: Final = 10_000  # a folder this full means something loops; refuse rather than grow
MAX_ENTRY_BYTES: Final = 64 * 1024


def command_key(action: str, params: Mapping[str, object]) -> str:
    text = json.dumps({"action": action, "params": params}, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:40]


@dataclass
class Pending:
    key: str
    action: str
    request_id: str
    created_ms: int
    resumed: bool  # True: an earlier run stored this entry and did not finish
    state: dict[str, Any] = field(default_factory=dict)


class Journal:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}.json"

    def begin(self, action: str, params: Mapping[str, object]) -> Pending:
        """The entry for this command: the stored one when an earlier run did not finish, else a new one
        (on disk, fsynced, before this returns)."""
        key = command_key(action, params)
        path = self._path(key)
        if path.exists():
            return self._load(path, key)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o700)
        if sum(1 for _ in self.folder.glob("*.json")) >= MAX_PENDING:
            raise local(
                "{folder} holds {MAX_PENDING} unfinished requests; clean it up",
                folder=self.folder,
                MAX_PENDING=MAX_PENDING,
            )
        entry = Pending(
            key=key,
            action=action,
            request_id=f"{action.split('.')[0][:12]}-{uuid.uuid4().hex}",
            created_ms=int(time.time() * 1000),
            resumed=False,
        )
        self._store(entry, params)
        return entry

    def update(self, entry: Pending, **state: Any) -> None:
        entry.state.update(state)
        path = self._path(entry.key)
        stored = json.loads(path.read_text()) if path.exists() else {}
        self._store(entry, stored.get("params", {}))

    def done(self, entry: Pending) -> None:
        self._path(entry.key).unlink(missing_ok=True)

    def pending(self) -> list[dict[str, object]]:
        """Every unfinished entry, oldest first (for `floreyn-provision pending`)."""
        if not self.folder.exists():
            return []
        out = []
        for path in sorted(self.folder.glob("*.json"))[:MAX_PENDING]:
            try:
                out.append(json.loads(path.read_text()))
            except (OSError, ValueError):
                continue
        return sorted(out, key=lambda e: e.get("created_ms", 0))

    def _store(self, entry: Pending, params: Mapping[str, object]) -> None:
        if entry.action.startswith("member."):
            params = {k: ("<redacted>" if k in PERSONAL and v is not None else v) for k, v in params.items()}
        data = json.dumps(
            {
                "action": entry.action,
                "params": params,
                "request_id": entry.request_id,
                "created_ms": entry.created_ms,
                "state": entry.state,
            },
            sort_keys=True,
            default=str,
        )
        assert len(data) <= MAX_ENTRY_BYTES, "a journal entry holds ids, not data"
        write_private(self._path(entry.key), data.encode())

    def _load(self, path: Path, key: str) -> Pending:
        data: object = None
        try:
            raw = path.read_bytes()
            data = json.loads(raw) if len(raw) <= MAX_ENTRY_BYTES else None
            request_id = data["request_id"] if isinstance(data, dict) else None
        except (OSError, ValueError, KeyError):
            request_id = None
        if not isinstance(data, dict) or not isinstance(request_id, str) or not request_id:
            raise local("unreadable unfinished request {path}; remove it after checking", path=path)
        return Pending(
            key=key,
            action=str(data.get("action", "")),
            request_id=request_id,
            created_ms=int(data.get("created_ms", 0)),
            resumed=True,
            state=dict(data.get("state") or {}),
        )
