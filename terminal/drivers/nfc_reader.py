"""The real card reader: nfcpy on its own thread, reconnecting when the reader goes away.

One thread owns the nfcpy ContactlessFrontend for its whole life (nfcpy's
device drivers are not meant to be shared between threads). It loops:
open the device, serve cards until the device fails or `stop()`, close,
back off, open again. Every failure becomes a `ReaderStatus`; nothing is
raised out of the thread, because a till with a dead reader thread looks
healthy while silently ignoring cards.

A card lying on the reader yields one event: after an event the same UID is
ignored until it has been away for `repeat_guard_s`. A read that failed
because the card left early does not arm that guard, so putting the card
straight back retries at once.

nfcpy reports a read whose command timed out as "no NDEF message", the same
as for a blank card. A read that broke off proves nothing about the card, so
only a read the card answered completely may call it "not a Floreyn card";
one that broke off with the card still there is tried again, and after
READ_AGAIN_TRIES it says "hold it still" (CardReadIncomplete) and keeps
reading the card without arming the guard.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import replace
from typing import Callable

from floreyn import cardtrail
from floreyn.card import CardDamaged, CardError, NotAFloreynCard
from floreyn.terminal.drivers import nfc_trail
from floreyn.terminal.drivers.base import (
    CardEvent,
    CardPresented,
    CardReader,
    CardReadIncomplete,
    CardRejected,
    CardRemovedTooEarly,
    CardWriteFailed,
    TrailPort,
    ReaderState,
    ReaderStatus,
    VerifyPayload,
    is_stop_request,
    is_torn,
    reader_fault_message,
)
from floreyn.terminal.drivers.ndef_card import card_payload_from_ndef
from floreyn.terminal.drivers.nfc_device import (
    DEFAULT_TARGETS,
    Frontend,
    NfcTag,
    OpenFrontend,
    backoff_delays,
    check_device_path,
    check_targets,
    describe_open_error,
    is_mifare_classic,
    is_peer_to_peer,
    open_frontend,
)

log = logging.getLogger(__name__)

_READ_ATTEMPTS = 2  # one retry absorbs a marginal read while the card is still held there
READ_AGAIN_TRIES = 4  # reads that broke off with the card still there, before the till says "hold it still"
# One sense round per nfcpy loop, then our `terminate` waits the interval on the stop event: the
# pause between polls costs no CPU and stop() cuts it short (nfcpy's own interval is a sleep).
_SENSE_INTERVAL_S = 0.2
_TRAIL_POLL_S = 0.1  # while a card lies on the reader: how often to look for a trail write or its leaving
_TRAIL_WRITE_TIMEOUT_S = 5.0  # a write not done by then counts as failed (card gone): the spend is refused


class NfcCardReader(CardReader):
    """Reads Floreyn cards with nfcpy; see nfc_device.py for the supported readers."""

    def __init__(
        self,
        verify: VerifyPayload,
        device: str,
        *,
        targets: tuple[str, ...] = DEFAULT_TARGETS,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        repeat_guard_s: float = 1.0,
        beep: bool = False,
        opener: OpenFrontend = open_frontend,
    ) -> None:
        super().__init__(verify)
        self.device = check_device_path(device)
        self.targets = check_targets(targets)
        assert 0 < backoff_initial_s <= backoff_max_s <= 60 and 0 <= repeat_guard_s <= 10
        self._backoff = (backoff_initial_s, backoff_max_s)
        self._repeat_guard_s = repeat_guard_s
        self._beep = beep
        self._opener = opener
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._clf: Frontend | None = None  # the open ContactlessFrontend, owned by the reader thread
        self._on_card: Callable[[CardEvent], None] = lambda event: None
        self._on_status: Callable[[ReaderStatus], None] = lambda status: None
        self._last_status: ReaderStatus | None = None
        self._guard_uid = b""
        self._guard_until = 0.0
        self._unread_uid = b""  # the card last told "hold it still", and until when that is not said again
        self._unread_until = 0.0

    # -- lifecycle -------------------------------------------------------------------

    def start(self, on_card: Callable[[CardEvent], None], on_status: Callable[[ReaderStatus], None]) -> None:
        if self._thread is not None:
            return
        self._stop = threading.Event()
        self._on_card, self._on_status = on_card, on_status
        self._last_status = None
        self._emit(ReaderState.STARTING, f"Kaartlezer {self.device} starten")
        self._thread = threading.Thread(target=self._run, name="nfc-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 2.0) -> None:
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        thread.join(timeout_s)
        if thread.is_alive():  # a reader stuck in a driver call; it is a daemon and exits with the app
            log.warning("nfc reader thread did not stop within %.1f s", timeout_s)
        self._thread = None

    def _run(self) -> None:
        delays = backoff_delays(*self._backoff)
        while not self._stop.is_set():
            try:
                served_s = self._session()
            except BaseException as exc:  # never let the thread die: the till would ignore cards silently
                if is_stop_request(exc):
                    raise
                log.exception("nfc reader session failed")
                self._emit(ReaderState.RECONNECTING, reader_fault_message(exc))
                served_s = 0.0
            if self._stop.is_set():
                break
            if served_s > self._backoff[1]:  # it worked for a while: this is a fresh failure
                delays = backoff_delays(*self._backoff)
            if served_s > 0:
                self._emit(ReaderState.RECONNECTING, "Verbinding met de kaartlezer verbroken. Opnieuw verbinden...")
            self._stop.wait(next(delays))
        self._emit(ReaderState.STOPPED, "Kaartlezer gestopt")

    def _session(self) -> float:
        """Open, serve until the device fails or stop; returns seconds served (0: could not open)."""
        try:
            clf = self._opener(self.device)
        except Exception as exc:
            log.info("cannot open %s: %r", self.device, exc)
            self._emit(ReaderState.UNAVAILABLE, describe_open_error(self.device, exc))
            return 0.0
        started = time.monotonic()
        self._clf = clf
        try:
            self._emit(ReaderState.READY, f"Kaartlezer klaar ({getattr(clf, 'device', self.device)})")
            self._serve(clf)
        finally:
            self._clf = None
            try:
                clf.close()
            except Exception:  # closing a device that vanished may fail; it is gone either way
                log.debug("closing the reader failed", exc_info=True)
        return max(time.monotonic() - started, 1e-6)

    def _serve(self, clf: Frontend) -> None:
        options = {
            "targets": list(self.targets),
            "on-discover": self._on_discover,
            "on-connect": self._on_connect,
            "on-release": self._on_release,
            "iterations": 1,
            # nfcpy's default sounds the reader on every card; an ACR122U then buzzes and flashes red,
            # which a shopkeeper reads as "refused". The screen says what happened instead.
            "beep-on-connect": self._beep,
        }
        terminate = lambda: self._stop.wait(_SENSE_INTERVAL_S)  # noqa: E731
        while not self._stop.is_set():
            try:
                result = clf.connect(rdwr=options, terminate=terminate)
            except OSError as exc:  # e.g. a USB transfer on a device that was pulled out
                log.info("reader failed: %r", exc)
                return  # anything else goes up to _run, which says what on the status line
            if result is False:  # nfcpy swallowed an IOError: the device is gone
                return

    # -- nfcpy callbacks (run on the reader thread) ------------------------------------

    def _on_discover(self, target: object) -> bool:
        if is_peer_to_peer(target):
            return False
        uid = _target_uid(target)
        if self._guarded(uid):
            return False
        if is_mifare_classic(target):  # e.g. an OV-chipkaart; do not even talk to it
            self._deliver(CardRejected(NotAFloreynCard(), uid))
            self._arm_guard(uid)
            return False
        return True

    def _on_connect(self, tag: NfcTag) -> bool:
        uid = bytes(tag.identifier)
        event = self._read_event(tag, uid)
        torn = is_torn(event)
        if not torn:
            self._arm_guard(uid)
        port = _attach_trail(tag, event)
        if port is not None and isinstance(event, CardPresented):
            event = replace(event, trail=port)
        if not self._said_already(event, uid):
            self._deliver(event)
        if port is not None:
            # The card's trail is written in the same tap: this thread owns the tag, so it serves the
            # engine's writes until the card leaves (or the reader stops), then refuses later ones.
            port.serve(tag, self._stop)
        # True: nfcpy waits until the card is taken away. After a torn read we sense again at once
        # instead: a card put straight back (or held still after "hold it still") would otherwise pass
        # for "still there" and never be read.
        return not torn

    def _on_release(self, tag: NfcTag) -> bool:
        self._guarded(bytes(tag.identifier))  # refresh: the guard runs from when the card left
        return True

    def _read_event(self, tag: NfcTag, uid: bytes) -> CardEvent:
        damaged = 0
        for attempt in range(READ_AGAIN_TRIES):
            octets, complete = _read_ndef(tag, fresh=attempt > 0)
            if octets is not None:
                try:
                    payload = card_payload_from_ndef(octets)
                except CardDamaged as exc:
                    damaged += 1
                    if damaged < _READ_ATTEMPTS and _present(tag):
                        continue
                    return CardRejected(exc, uid)
                except CardError as exc:
                    return CardRejected(exc, uid)
                return self.verify_payload(payload, uid)
            if not _present(tag):
                return CardRejected(CardRemovedTooEarly(), uid)
            if complete:  # the card answered every command and holds no NDEF message
                return CardRejected(NotAFloreynCard(), uid)
        return CardRejected(CardReadIncomplete(), uid)

    # -- helpers ------------------------------------------------------------------------

    def _guarded(self, uid: bytes) -> bool:
        """True while `uid` has not been away for repeat_guard_s since its last event; refreshes it."""
        now = time.monotonic()
        if uid and uid == self._guard_uid and now < self._guard_until:
            self._guard_until = now + self._repeat_guard_s
            return True
        return False

    def _said_already(self, event: CardEvent, uid: bytes) -> bool:
        """A card that stays unreadable is read again and again: "hold it still" is said once per
        repeat_guard_s, not at every try (the till would flash its refusal screen many times a second)."""
        now = time.monotonic()
        if not (isinstance(event, CardRejected) and isinstance(event.error, CardReadIncomplete)):
            self._unread_uid = b""
            return False
        if uid == self._unread_uid and now < self._unread_until:
            return True
        self._unread_uid, self._unread_until = uid, now + self._repeat_guard_s
        return False

    def _arm_guard(self, uid: bytes) -> None:
        self._guard_uid, self._guard_until = uid, time.monotonic() + self._repeat_guard_s

    def _deliver(self, event: CardEvent) -> None:
        try:
            self._on_card(event)
        except Exception:  # the engine's bug must not kill the reader
            log.exception("on_card callback failed")

    def _emit(self, state: ReaderState, message: str) -> None:
        status = ReaderStatus(state, message)
        if status == self._last_status:
            return
        self._last_status = status
        try:
            self._on_status(status)
        except Exception:
            log.exception("on_status callback failed")


class _TagTrail(TrailPort):
    """The trail of the card on this reader: writes queue to the reader thread, which owns the tag."""

    def __init__(self, area: cardtrail.TrailArea) -> None:
        self.area = area
        self._requests: queue.Queue[tuple[cardtrail.Trail, queue.Queue[cardtrail.Trail | CardError]]] = (
            queue.Queue(maxsize=4))
        self._gone = threading.Event()

    def write(self, entry: cardtrail.Trail) -> cardtrail.Trail:
        if self._gone.is_set():
            raise CardRemovedTooEarly()
        reply: queue.Queue[cardtrail.Trail | CardError] = queue.Queue(maxsize=1)
        try:
            self._requests.put((entry, reply), timeout=_TRAIL_WRITE_TIMEOUT_S)
        except queue.Full:
            raise CardWriteFailed(detail="de lezer is bezig") from None
        try:
            answer = reply.get(timeout=_TRAIL_WRITE_TIMEOUT_S)
        except queue.Empty:
            raise CardRemovedTooEarly() from None
        if isinstance(answer, CardError):
            raise answer
        return answer

    def serve(self, tag: NfcTag, stop: threading.Event) -> None:
        """On the reader thread: do queued writes while the card lies there."""
        try:
            while not stop.is_set():
                try:
                    entry, reply = self._requests.get(timeout=_TRAIL_POLL_S)
                except queue.Empty:
                    if not _present(tag):
                        return
                    continue
                try:
                    written = nfc_trail.write_entry(tag, entry)
                    self.area = nfc_trail.read_area(tag)
                    reply.put(written)
                except CardError as exc:
                    reply.put(exc)
        finally:
            self._gone.set()
            while not self._requests.empty():  # a write asked as the card left: refused, never lost silently
                _, reply = self._requests.get_nowait()
                reply.put(CardRemovedTooEarly())


def _attach_trail(tag: NfcTag, event: CardEvent) -> _TagTrail | None:
    """A port to the trail of a genuine format-2 card on an NTAG21x, else None (it cannot pay offline)."""
    if not isinstance(event, CardPresented) or not event.card.has_trail:
        return None
    try:
        area = nfc_trail.read_area(tag)
    except Exception as exc:  # an odd tag or one leaving: no trail, so no offline spend
        log.debug("trail read failed: %r", exc)
        return None
    return _TagTrail(area) if area is not None else None


def _target_uid(target: object) -> bytes:
    for name, part in (("sdd_res", slice(None)), ("sensf_res", slice(1, 9)), ("sensb_res", slice(1, 5))):
        value = getattr(target, name, None)
        if value:
            return bytes(value[part])
    return b""


def _read_ndef(tag: NfcTag, fresh: bool) -> tuple[bytes | None, bool]:
    """(the tag's NDEF message octets or None, whether every command of the read was answered)."""
    watch = _ExchangeWatch(tag.clf)
    tag._clf = watch  # nfcpy's tags send every command through their frontend's exchange()
    try:
        if fresh:
            tag._ndef = None  # nfcpy caches the NDEF object; clearing it makes `tag.ndef` read the card again
        ndef = tag.ndef
        octets = bytes(ndef.octets) if ndef is not None else None
    except Exception as exc:  # nfcpy raises TagCommandError, CommunicationError, and on odd tags worse
        log.debug("ndef read failed: %r", exc)
        octets, watch.failures = None, watch.failures + 1
    finally:
        tag._clf = watch.clf
    return octets, watch.failures == 0


class _ExchangeWatch:
    """The frontend as a tag sees it during one NDEF read, counting the commands that got no good answer.

    nfcpy catches a command that timed out inside its NDEF read and reports "no NDEF message", as for a
    blank card: a genuine card held at the edge of the field would pass for a foreign one. A failed
    command counts even if nfcpy's own retry then got through: the read is then only called incomplete
    when it found no message, and is tried again.
    """

    def __init__(self, clf: object) -> None:
        self.clf = clf
        self.failures = 0

    def exchange(self, data: bytes, timeout: float) -> bytes:
        try:
            return self.clf.exchange(data, timeout)  # type: ignore[attr-defined]
        except Exception:  # nfc.clf.CommunicationError (timeout, garbled frame) and a device's IOError
            self.failures += 1
            raise

    def __getattr__(self, name: str) -> object:  # sense() and the rest as nfcpy's frontend has them
        return getattr(self.clf, name)


def _present(tag: NfcTag) -> bool:
    try:
        return bool(tag.is_present)
    except Exception:
        return False
