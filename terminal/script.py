"""The scripted till: run a list of actions through the real engine with virtual devices.

One JSON object per action in, one JSON line per action out (format in
README, "Scripted till").

Resuming (the same script and run id on the same data folder, e.g. after a
SIGKILL): every output line is also appended to a progress log in the data
folder. On a restart, actions found there are not run again: their line is
printed as it was, with `"resumed": true`; only session actions (sign-in,
card presented, printer state) are replayed silently to rebuild the till's
state. The action that was running when the process died runs again: a
money action first looks up its client reference "<run id>:<action id>",
stored in the same database transaction as its records, so if it had
committed it reports `"existed": true` and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import queue
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, TextIO

from floreyn.errors import FloreynError
from floreyn.money import Currency, Money, parse_money
from floreyn.sync.record import Tender
from floreyn.terminal.drivers.base import (
    CardEvent, CardRemovedTooEarly, PrintDoc, PrinterCoverOpen, PrinterError, PrinterOffline, PrinterOutOfPaper,
)
from floreyn.terminal.drivers.virtual import MemoryTrail, VirtualCardReader, VirtualPrinter
from floreyn.terminal.script_card import CardFileError, VirtualCard
from floreyn.terminal.script_card import trail_dict as _trail_dict
from floreyn.terminal.engine.core import Engine

MAX_SCRIPT_BYTES = 16 * 1024 * 1024
MAX_ACTIONS = 100_000
MAX_WAIT_S = 60.0
CARD_READ_TIMEOUT_S = 5.0
TENDERS = {"cash": Tender.CASH, "contant": Tender.CASH, "card": Tender.BANK_CARD, "pin": Tender.BANK_CARD,
           "bank_card": Tender.BANK_CARD}
PRINTER_FAULTS: dict[str, Callable[[], PrinterError]] = {
    "paper_out": PrinterOutOfPaper, "cover_open": PrinterCoverOpen, "offline": PrinterOffline,
}


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")


class ScriptPrinter(VirtualPrinter):
    """The virtual printer, keeping each receipt as text in `receipts_dir` as <doc id>.txt.

    Text only (no pictures: a script runs thousands of receipts); a reprint
    overwrites its receipt's file, so the folder holds one file per document.
    """

    def __init__(self, columns: int, receipts_dir: Path) -> None:
        super().__init__(columns=columns)
        self.receipts_dir = receipts_dir

    def _print_doc(self, doc: PrintDoc) -> None:
        super()._print_doc(doc)
        self.receipts_dir.mkdir(parents=True, exist_ok=True)
        name = "".join(ch for ch in doc.doc_id if ch.isalnum() or ch in "-_") or "doc"
        (self.receipts_dir / f"{name}.txt").write_text(doc.text(self.columns), encoding="utf-8")


class ScriptError(FloreynError):
    code = "script_invalid"
    msgid = "Error in the script (action {where}): {detail}"


@dataclass(frozen=True)
class Action:
    index: int
    id: str
    name: str
    raw: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.raw.get(key, default)


def load_script(path: Path) -> list[Action]:
    """A JSON array of actions, or JSON lines (blank lines and lines starting with # skipped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ScriptError(where="-", detail=f"{path}: {exc.strerror}") from None
    if len(data) > MAX_SCRIPT_BYTES:
        raise ScriptError(where="-", detail=f"larger than {MAX_SCRIPT_BYTES} bytes")
    text = data.decode("utf-8", errors="replace")
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ScriptError(where=f"line {exc.lineno}", detail=exc.msg) from None
    else:
        items = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            try:
                items.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ScriptError(where=f"line {number}", detail=exc.msg) from None
    if len(items) > MAX_ACTIONS:
        raise ScriptError(where="-", detail=f"more than {MAX_ACTIONS} actions")
    actions, seen = [], set()
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("action"), str):
            raise ScriptError(where=str(i), detail='each action is an object with "action"')
        action_id = str(item.get("id", i))
        if action_id in seen:
            raise ScriptError(where=action_id, detail="duplicate id")
        seen.add(action_id)
        actions.append(Action(i, action_id, item["action"], item))
    return actions


class ScriptedTill:
    def __init__(self, engine: Engine, printer: VirtualPrinter, *, run_id: str,
                 card_payload: Callable[[str], bytes], out: TextIO, progress_path: Path | None = None) -> None:
        self.engine = engine
        self.progress_path = progress_path
        self.printer = printer
        self.run_id = run_id
        self.card_payload = card_payload
        self.out = out
        self._events: queue.Queue[CardEvent] = queue.Queue(maxsize=16)
        self._trails: dict[bytes, MemoryTrail] = {}  # card payload -> its trail pages, for this process
        self._last_port: MemoryTrail | None = None
        self.reader = VirtualCardReader(engine.verify_payload)
        self._tx_by_action: dict[str, str] = {}
        self._last_tx: str | None = None

    def run(self, actions: list[Action]) -> int:
        """Run every action; returns 1 when an "expect" did not hold, else 0."""
        done = self._load_progress(actions)
        self.reader.start(self._events.put, lambda _status: None)
        failed = 0
        progress = self.progress_path.open("a", encoding="utf-8") if self.progress_path else None
        try:
            for action in actions:
                if action.index in done:
                    failed += not self._replay(action, done[action.index])
                else:
                    failed += not self._run_one(action, progress)
        finally:
            self.reader.stop()
            if progress:
                progress.close()
        return 1 if failed else 0

    def _load_progress(self, actions: list[Action]) -> dict[int, dict[str, Any]]:
        """Lines of a previous run of this script, by action index (a torn last line is ignored)."""
        if self.progress_path is None or not self.progress_path.exists():
            return {}
        done: dict[int, dict[str, Any]] = {}
        for text in self.progress_path.read_text(encoding="utf-8").splitlines()[:MAX_ACTIONS]:
            try:
                line = json.loads(text)
            except json.JSONDecodeError:
                continue
            i = line.get("i")
            if isinstance(i, int) and 0 <= i < len(actions) and line.get("id") == actions[i].id:
                done[i] = line
        return done

    def _replay(self, action: Action, line: dict[str, Any]) -> bool:
        """Print a finished action's line again; rebuild session state without writing anything."""
        try:
            if action.name in ("sign_in", "present") and line.get("ok"):
                getattr(self, f"do_{action.name}")(action)
            elif action.name == "present":
                self.engine.clear_card()  # a refused card cleared the previous one
            elif action.name in ("sign_out", "clear_card", "printer"):
                getattr(self, f"do_{action.name}")(action)
        except FloreynError:
            pass  # the line below is what happened then
        if line.get("ok") and "tx_id" in line:
            self._tx_by_action[action.id] = line["tx_id"]
            self._last_tx = line["tx_id"]
        self.out.write(json.dumps({**line, "resumed": True}, ensure_ascii=False, sort_keys=True) + "\n")
        self.out.flush()
        return line.get("expect_ok", True)

    def _run_one(self, action: Action, progress: TextIO | None = None) -> bool:
        line: dict[str, Any] = {"i": action.index, "id": action.id, "action": action.name,
                                "at": _utc_now()}  # when it ran: an independent check lines runs up by time
        handler = getattr(self, f"do_{action.name}", None)
        try:
            if handler is None:
                raise ScriptError(where=action.id, detail=f"unknown action {action.name!r}")
            result = handler(action) or {}
            line.update({"ok": True, **result})
            got = "ok"
        except FloreynError as exc:
            line.update({"ok": False, **exc.to_dict()})
            got = exc.code
            card = self.engine.card
            if card is not None:
                line["card_last4"] = card.card.card_hex[-4:].upper()  # which card a refusal was about
        expect = action.get("expect")
        holds = expect is None or expect == got
        if expect is not None:
            line["expect"] = expect
            line["expect_ok"] = holds
        text = json.dumps(line, ensure_ascii=False, sort_keys=True) + "\n"
        self.out.write(text)
        self.out.flush()
        if progress is not None:  # flushed, not fsynced: a SIGKILL keeps it; after a power cut, see above
            progress.write(text)
            progress.flush()
        return holds

    # -- helpers ----------------------------------------------------------------------------------

    def _ref(self, action: Action) -> tuple[str, str]:
        fingerprint = hashlib.sha256(json.dumps(action.raw, sort_keys=True).encode()).hexdigest()[:32]
        return f"{self.run_id}:{action.id}", fingerprint

    def _money(self, action: Action, currency: Currency, key: str = "amount") -> Money:
        if f"{key}_cents" in action.raw:
            cents = action.raw[f"{key}_cents"]
            if type(cents) is not int:
                raise ScriptError(where=action.id, detail=f"{key}_cents must be a whole number")
            return Money(cents, currency)
        value = action.get(key)
        if value is None:
            raise ScriptError(where=action.id, detail=f'"{key}" is missing')
        return parse_money(str(value), currency, max_cents=10**12, allow_zero=True)

    def _tx(self, action: Action) -> str:
        ref = action.get("tx", "$last")
        if ref == "$last":
            if self._last_tx is None:
                raise ScriptError(where=action.id, detail="no earlier transaction in this script")
            return self._last_tx
        if isinstance(ref, str) and ref.startswith("@"):
            found = self._tx_by_action.get(ref[1:])
            if found is None:
                raise ScriptError(where=action.id, detail=f"no transaction made by action {ref[1:]}")
            return found
        return str(ref)

    def _done(self, action: Action, result: Any, extra: dict[str, Any] | None = None) -> dict[str, object]:
        self._tx_by_action[action.id] = result.tx_id
        self._last_tx = result.tx_id
        out = {**result.to_dict(), **(extra or {})}
        if getattr(result, "card_updated", None) and self._last_port is not None and self._last_port.area:
            out["trail_written"] = _trail_dict(self._last_port.area.current)  # as read back from the card
        return out

    def _resumed(self, action: Action) -> dict[str, object] | None:
        ref, fingerprint = self._ref(action)
        found = self.engine.find_by_ref(ref, fingerprint)
        return None if found is None else self._done(action, found)

    def _confirm(self, action: Action, quote: Any, tender: Tender | None = None) -> dict[str, object]:
        ref, fingerprint = self._ref(action)
        try:
            result = self.engine.confirm(quote.quote_id, tender=tender, manager_pin=action.get("manager_pin"),
                                         repeat_ok=bool(action.get("repeat_ok", False)), client_ref=ref,
                                         fingerprint=fingerprint)
        except FloreynError:
            self.engine.cancel(quote.quote_id)
            raise
        return self._done(action, result, {"quote": quote.to_dict()})

    # -- actions ------------------------------------------------------------------------------------

    def do_sign_in(self, action: Action) -> dict[str, object]:
        op = self.engine.sign_in(str(action.get("pin", "")))
        return {"operator": op.name, "role": op.role}

    def do_sign_out(self, action: Action) -> dict[str, object]:
        self.engine.sign_out()
        return {}

    def do_present(self, action: Action) -> dict[str, object]:
        card_file = action.get("card_file")
        virtual: VirtualCard | None = None
        if card_file is not None:
            if not isinstance(card_file, str) or not card_file:
                raise ScriptError(where=action.id, detail='"card_file" is a path')
            name = str(action.raw["card"]) if "card" in action.raw else None
            try:
                virtual = VirtualCard.load(Path(card_file), lambda: self.card_payload(name) if name else None,
                                           where=action.id)
            except CardFileError as exc:
                raise ScriptError(where=action.id, detail=str(exc)) from None
            payload = virtual.payload
        elif "payload_hex" in action.raw:
            payload = bytes.fromhex(str(action.raw["payload_hex"]))
        elif "card" in action.raw:
            payload = self.card_payload(str(action.raw["card"]))
        else:
            raise ScriptError(where=action.id, detail='present needs "card", "payload_hex" or "card_file"')
        if action.get("tamper"):
            payload = payload[:-1] + bytes([payload[-1] ^ 0x01])  # one flipped bit in the signature
        # The card's trail pages: from its file, else kept per card for this process (one physical card).
        port = virtual.trail if virtual is not None else self._trails.setdefault(payload, MemoryTrail())
        if action.get("unwritable"):  # a card that will be pulled away before its trail is written
            port.fail_next = CardRemovedTooEarly()
        self._last_port = port
        self.reader.present(payload, trail=port)
        try:
            event = self._events.get(timeout=CARD_READ_TIMEOUT_S)
        except queue.Empty:
            raise ScriptError(where=action.id, detail="the virtual reader did not answer") from None
        summary = self.engine.card_event(event).to_dict()
        entry = port.area.current if port.area is not None else None
        summary["trail_read"] = _trail_dict(entry)
        if virtual is not None:
            summary["card_file"] = str(virtual.path)
        return summary

    def do_clear_card(self, action: Action) -> dict[str, object]:
        self.engine.clear_card()
        return {}

    def do_spend(self, action: Action) -> dict[str, object]:
        resumed = self._resumed(action)
        if resumed is not None:
            return resumed
        tender = action.get("tender")
        if tender is not None and tender not in TENDERS:
            raise ScriptError(where=action.id, detail=f"tender is one of {', '.join(TENDERS)}")
        online = action.get("online")
        quote = self.engine.quote_spend(self._money(action, Currency.FL), source=action.get("source"),
                                        online=None if online is None else bool(online), ref=self._ref(action)[0])
        return self._confirm(action, quote, TENDERS.get(tender) if tender else None)

    def do_save(self, action: Action) -> dict[str, object]:
        resumed = self._resumed(action)
        if resumed is not None:
            return resumed
        return self._confirm(action, self.engine.quote_save(self._money(action, Currency.EUR),
                                                            ref=self._ref(action)[0]))

    def do_topup(self, action: Action) -> dict[str, object]:
        resumed = self._resumed(action)
        if resumed is not None:
            return resumed
        return self._confirm(action, self.engine.quote_topup(self._money(action, Currency.EUR),
                                                             ref=self._ref(action)[0]))

    def do_refund(self, action: Action) -> dict[str, object]:
        resumed = self._resumed(action)
        if resumed is not None:
            return resumed
        amount = self._money(action, Currency.FL) if ("amount" in action.raw or "amount_cents" in action.raw) else None
        return self._confirm(action, self.engine.quote_refund(self._tx(action), amount, ref=self._ref(action)[0]))

    def do_void(self, action: Action) -> dict[str, object]:
        resumed = self._resumed(action)
        if resumed is not None:
            return resumed
        return self._confirm(action, self.engine.quote_void(ref=self._ref(action)[0]))

    def do_day_close(self, action: Action) -> dict[str, object]:
        resumed = self._resumed(action)
        if resumed is not None:
            return resumed
        ref, fingerprint = self._ref(action)
        pin = action.raw.get("manager_pin")  # a cashier signed in needs a manager's PIN, as in the app
        return self._done(action, self.engine.close_day(client_ref=ref, fingerprint=fingerprint,
                                                        manager_pin=pin if isinstance(pin, str) else None))

    def do_reprint(self, action: Action) -> dict[str, object]:
        result = self.engine.reprint(self._tx(action))
        return {"tx_id": result.tx_id, "receipt": result.receipt_status,
                **({"receipt_error": result.receipt_error.to_dict()} if result.receipt_error else {})}

    def do_retry_receipts(self, action: Action) -> dict[str, object]:
        return {"printed": self.engine.retry_pending_receipts()}

    def do_welcome(self, action: Action) -> dict[str, object]:
        doc = self.engine.print_welcome()
        return {"doc_id": doc.doc_id}

    def do_printer(self, action: Action) -> dict[str, object]:
        fault = action.get("fail")
        if fault is not None and fault not in PRINTER_FAULTS:
            raise ScriptError(where=action.id, detail=f"fail is one of {', '.join(PRINTER_FAULTS)} or null")
        self.printer.fail_with(PRINTER_FAULTS[fault]() if fault else None)
        return {"printer": fault or "ok"}

    def do_sync(self, action: Action) -> dict[str, object]:
        return {"sync": self.engine.sync_now()}

    def do_status(self, action: Action) -> dict[str, object]:
        return self.engine.status().to_dict()

    def do_wait(self, action: Action) -> dict[str, object]:
        seconds = action.get("seconds", 0)
        if not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_WAIT_S:
            raise ScriptError(where=action.id, detail=f"seconds must be 0 to {MAX_WAIT_S:g}")
        time.sleep(seconds)
        return {"waited_s": seconds}
