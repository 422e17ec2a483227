"""The nfcpy card reader against cards emulated by nfcpy on its udp radio (no mocks)."""

from __future__ import annotations

import errno
import time

import ndef
import pytest
from support import wait

from floreyn import card as floreyn_card
from floreyn.card import CardDamaged, CardTampered, CardUnknownKey, CardUnknownVersion, NotAFloreynCard
from floreyn.keys import PrivateKey
from floreyn.terminal.drivers.base import (
    CardPresented,
    CardReadIncomplete,
    CardRejected,
    CardRemovedTooEarly,
    DeviceConfigError,
    ReaderState,
)
from floreyn.terminal.drivers.ndef_card import encode_card_message
from floreyn.terminal.drivers.nfc_device import backoff_delays, describe_open_error
from floreyn.terminal.drivers.nfc_emulator import EmulatedType3Tag, free_udp_port
from floreyn.terminal.drivers.nfc_emulator_ntag import EmulatedNtag
from floreyn.terminal.drivers.nfc_reader import READ_AGAIN_TRIES, NfcCardReader

T3 = ("212F",)
T2 = ("106A",)
WAIT_S = 30.0  # for what the reader thread does on its own: milliseconds, but generous for a loaded machine


def start(readers, collector, verify, path, targets=T3, **options) -> NfcCardReader:
    reader = NfcCardReader(verify, path, targets=targets, **options)
    readers.append(reader)
    reader.start(collector.on_card, collector.on_status)
    return reader


def count_releases(reader: NfcCardReader) -> list[float]:
    """The times (monotonic) at which the reader saw a card leave; call before reader.start()."""
    released: list[float] = []
    seen = reader._on_release  # nfcpy gets the callback when the reader thread starts serving

    def on_release(tag) -> bool:
        released.append(time.monotonic())
        return seen(tag)

    reader._on_release = on_release
    return released


def test_genuine_card_on_type3_tag_is_presented_with_its_uid(readers, collector, verify, member):
    with EmulatedType3Tag(encode_card_message(member.payload())) as tag:
        start(readers, collector, verify, tag.path)
        (event,) = collector.wait_cards(1)
    assert event == CardPresented(member, tag.uid)
    assert collector.states()[:2] == [ReaderState.STARTING, ReaderState.READY]


def test_genuine_card_on_ntag215_is_presented(readers, collector, verify, member):
    with EmulatedNtag(encode_card_message(member.payload())) as tag:
        start(readers, collector, verify, tag.path, targets=T2)
        (event,) = collector.wait_cards(1)
    assert event == CardPresented(member, tag.uid)
    assert b"\x60" in tag.frames  # nfcpy identified the NTAG through GET_VERSION, as with a real card


def test_reads_that_time_out_say_read_again_and_the_card_is_read_once_they_stop(readers, collector, verify,
                                                                               member):
    # A genuine NTAG215 held still but answering too late (a loaded machine, the edge of the field): each of
    # the reader's tries is nfcpy's READ sent three times, and the presence check (page 0) is answered.
    # Such a read proves nothing about the card: it must not be called "not a Floreyn card".
    late = 3 * READ_AGAIN_TRIES
    with EmulatedNtag(encode_card_message(member.payload()), late_reads=late) as tag:
        start(readers, collector, verify, tag.path, targets=T2)
        first = collector.wait_cards(1)[0]
        assert isinstance(first, CardRejected) and type(first.error) is CardReadIncomplete, first
        assert first.error.message("nl") == "De pas is niet goed gelezen. Houd hem stil tegen de lezer."
        # The reader keeps reading the card that stays there; once its answers come in time it is read.
        wait.until(lambda: any(isinstance(e, CardPresented) for e in collector.cards), WAIT_S, "the card read")
        *before, read = collector.wait_cards(2)
    assert read == CardPresented(member, tag.uid) and tag.late_reads == 0
    assert all(isinstance(e, CardRejected) and type(e.error) is CardReadIncomplete for e in before), before


def test_a_card_that_stays_unreadable_is_told_to_hold_still_once_per_repeat_guard(readers, collector, verify,
                                                                                  member):
    # Three rounds of tries that all break off: one "hold it still", not one per round (the till would flash
    # its refusal screen many times a second). The guard is long so that a loaded machine stays within it.
    late = 3 * 3 * READ_AGAIN_TRIES
    with EmulatedNtag(encode_card_message(member.payload()), late_reads=late) as tag:
        start(readers, collector, verify, tag.path, targets=T2, repeat_guard_s=10.0)
        wait.until(lambda: any(isinstance(e, CardPresented) for e in collector.cards), WAIT_S, "the card read")
        events = collector.wait_cards(2)
    assert [type(e.error) for e in events if isinstance(e, CardRejected)] == [CardReadIncomplete]
    assert events[-1] == CardPresented(member, tag.uid)


def _uri_message() -> bytes:
    return b"".join(ndef.message_encoder([ndef.UriRecord("https://example.org/")]))


def _record_message(payload: bytes) -> bytes:
    return encode_card_message(payload)


def _bad_cards(member: floreyn_card.Card) -> list:
    genuine = member.payload()
    stranger = floreyn_card.issue(PrivateKey(bytes(32)), member.card_id)
    return [
        pytest.param(b"", NotAFloreynCard, id="blank"),
        pytest.param(None, NotAFloreynCard, id="unformatted"),
        pytest.param(_uri_message(), NotAFloreynCard, id="foreign-ndef"),
        pytest.param(_record_message(genuine[:50]), CardDamaged, id="damaged-short-payload"),
        pytest.param(encode_card_message(genuine)[:60], CardDamaged, id="damaged-torn-message"),
        pytest.param(_record_message(genuine[:-1] + bytes([genuine[-1] ^ 1])), CardTampered, id="tampered"),
        pytest.param(_record_message(stranger.payload()), CardUnknownKey, id="unknown-issuer"),
        pytest.param(_record_message(genuine[:2] + b"\x09" + genuine[3:]), CardUnknownVersion, id="newer-version"),
    ]


@pytest.mark.parametrize("case", range(8))
def test_unusable_cards_are_rejected_with_the_reason(readers, collector, verify, member, case):
    octets, expected = _bad_cards(member)[case].values
    with EmulatedType3Tag(octets) as tag:
        start(readers, collector, verify, tag.path)
        (event,) = collector.wait_cards(1)
    assert isinstance(event, CardRejected) and type(event.error) is expected
    assert event.uid == tag.uid
    assert event.error.message("nl")  # the till shows it as is


def test_mifare_classic_is_refused_without_being_activated(readers, collector, verify):
    with EmulatedNtag.mifare_classic() as tag:
        start(readers, collector, verify, tag.path, targets=T2)
        (event,) = collector.wait_cards(1)
        time.sleep(0.6)  # it keeps lying there: no second event
    assert isinstance(event, CardRejected) and isinstance(event.error, NotAFloreynCard)
    assert event.uid == tag.uid and len(collector.cards) == 1
    assert not any(frame[0] in (0x30, 0x60, 0x1A, 0xA2) for frame in tag.frames)  # only anticollision


def test_a_card_left_on_the_reader_gives_one_event_and_a_new_tap_another(readers, collector, verify, member):
    with EmulatedType3Tag(encode_card_message(member.payload())) as tag:
        reader = NfcCardReader(verify, tag.path, targets=T3, repeat_guard_s=0.3)
        readers.append(reader)
        released = count_releases(reader)
        reader.start(collector.on_card, collector.on_status)
        collector.wait_cards(1)
        time.sleep(1.0)
        assert len(collector.cards) == 1
        tag.remove()
        # Laid back only once the reader saw it go and the guard ran out: a fixed sleep was not always long
        # enough for a loaded machine's reader thread to notice, and the card then counted as never taken away.
        wait.until(lambda: released, WAIT_S, "the release")
        wait.until(lambda: time.monotonic() > released[0] + 0.3 + 0.2, WAIT_S)  # the guard, and a margin
        tag.present()
        events = collector.wait_cards(2)
    assert events[1] == CardPresented(member, tag.uid)


def test_card_pulled_away_mid_read_is_removed_too_early_and_can_be_retried_at_once(readers, collector, verify, member):
    # A full read is 3 commands (attribute block, 2 data reads); the card leaves at the 2nd.
    with EmulatedType3Tag(encode_card_message(member.payload()), mute_after_commands=2) as tag:
        start(readers, collector, verify, tag.path, repeat_guard_s=5.0)
        (event,) = collector.wait_cards(1)
        assert isinstance(event, CardRejected) and isinstance(event.error, CardRemovedTooEarly)
        assert tag.gone
        tag.mute_after_commands = None
        tag.present()  # put straight back: no repeat guard after a failed read
        events = collector.wait_cards(2, timeout_s=3.0)
    assert events[1] == CardPresented(member, tag.uid)


def test_stop_ends_the_thread_promptly_and_reports_stopped(readers, collector, verify):
    reader = start(readers, collector, verify, f"udp:127.0.0.1:{free_udp_port()}")  # nothing there: polling
    collector.wait_state(ReaderState.READY)
    started = time.monotonic()
    reader.stop(timeout_s=2.0)
    assert time.monotonic() - started < 1.5  # one udp poll (1 s) at most
    assert reader._thread is None
    assert collector.states()[-1] is ReaderState.STOPPED


def test_reader_reconnects_after_its_device_fails(readers, collector, verify, member):
    port = free_udp_port()
    reader = start(readers, collector, verify, f"udp:127.0.0.1:{port}", backoff_initial_s=0.05, backoff_max_s=0.2)
    collector.wait_state(ReaderState.READY)
    # Pull the plug: the reader thread's device socket dies under it, as a USB handle does.
    reader._clf.device.socket.close()
    lost = collector.wait_state(ReaderState.RECONNECTING)
    assert "verbroken" in lost.message
    collector.wait_state(ReaderState.READY, after=collector.statuses.index(lost))
    with EmulatedType3Tag(encode_card_message(member.payload()), port=port):
        (event,) = collector.wait_cards(1)
    assert event == CardPresented(member, b"\x02\xfe\x00\x00\x00\x00\xf1\x0e")
    assert reader._thread is not None and reader._thread.is_alive()


def test_missing_reader_is_reported_with_what_to_plug_in_and_retried_quietly(readers, collector, verify):
    reader = start(readers, collector, verify, "tty:USB97:pn532", backoff_initial_s=0.05, backoff_max_s=0.1)
    status = collector.wait_state(ReaderState.UNAVAILABLE)
    assert "/dev/ttyUSB97" in status.message and "PN532" in status.message
    time.sleep(0.5)  # several retries happen; the same status is not repeated
    assert collector.states().count(ReaderState.UNAVAILABLE) == 1
    started = time.monotonic()
    reader.stop()
    assert time.monotonic() - started < 0.5


def test_missing_usb_reader_says_plug_it_in(readers, collector, verify):
    start(readers, collector, verify, "usb:054c:06c3")
    status = collector.wait_state(ReaderState.UNAVAILABLE)
    assert status.message == "Kaartlezer niet gevonden. Sluit de USB-lezer aan."


def test_a_failing_callback_does_not_stop_the_reader(readers, collector, verify, member):
    calls = []

    def explode(event):
        calls.append(event)
        raise RuntimeError("engine bug")

    with EmulatedType3Tag(encode_card_message(member.payload())) as tag:
        reader = NfcCardReader(verify, tag.path, targets=T3, repeat_guard_s=0.0)
        readers.append(reader)
        released = count_releases(reader)
        reader.start(explode, collector.on_status)
        wait.until(lambda: calls, WAIT_S, "the first card")
        tag.remove()
        # The reader's presence check saw it gone (a fixed sleep raced a loaded machine).
        wait.until(lambda: released, WAIT_S, "the release")
        tag.present()
        wait.until(lambda: len(calls) >= 2, WAIT_S, "the second card")
    assert len(calls) == 2 and all(isinstance(c, CardPresented) for c in calls)


@pytest.mark.parametrize(
    "path, exc, expected",
    [
        # what usb1 raises when libusb-1.0 is not installed (we cannot uninstall it here)
        ("usb", OSError(errno.ENOENT, "cannot find a suitable libusb-1.0", ["libusb-1.0.so.0"]), "apt install libusb-1.0-0"),
        ("usb", ImportError("missing usb1 module, try 'pip install libusb1'"), "pip install libusb1"),
        ("tty:AMA0:pn532", ImportError("missing serial module, try 'pip install pyserial'"), "pip install pyserial"),
        ("usb", OSError(errno.EACCES, "Permission denied"), "udev"),
        ("usb:054c:06c3", OSError(errno.EBUSY, "Device or resource busy"), "pcscd"),
        ("usb", OSError(errno.ENODEV, "No such device"), "Sluit de USB-lezer aan"),
        ("tty:AMA0:pn532", OSError(errno.ENODEV, "No such device"), "/dev/ttyAMA0"),
    ],
)
def test_open_errors_become_dutch_hints(path, exc, expected):
    assert expected in describe_open_error(path, exc)


def test_backoff_doubles_to_a_bound():
    delays = backoff_delays(0.5, 10.0)
    assert [next(delays) for _ in range(8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0, 10.0]


@pytest.mark.parametrize("path", ["usb0", "tty:AMA0", "tty:AMA0:acr122", "udp:127.0.0.1", "udp:h:70000", "", 7])
def test_bad_device_paths_are_refused(verify, path):
    with pytest.raises(DeviceConfigError) as info:
        NfcCardReader(verify, path)
    assert "kaartlezer" in info.value.message("nl")


def test_the_reader_does_not_sound_on_every_card(readers, collector, verify, member, monkeypatch):
    # nfcpy calls the device's turn_on_led_and_buzzer per card unless told not to: on an ACR122U
    # that is a buzz and a red flash for every tap. The udp device stands in for the ACR122U here.
    import nfc.clf.udp

    sounded: list[bool] = []
    monkeypatch.setattr(nfc.clf.udp.Device, "turn_on_led_and_buzzer", lambda self: sounded.append(True),
                        raising=False)
    with EmulatedNtag(encode_card_message(member.payload())) as tag:
        reader = NfcCardReader(verify, tag.path, targets=("106A",))
        readers.append(reader)
        reader.start(collector.on_card, collector.on_status)
        collector.wait_cards(1)
    assert sounded == []
    with EmulatedNtag(encode_card_message(member.payload())) as tag:  # `beep = true` in [reader] wants it
        loud = NfcCardReader(verify, tag.path, targets=("106A",), beep=True)
        readers.append(loud)
        loud.start(collector.on_card, collector.on_status)
        collector.wait_cards(2)
    assert sounded


class _Mystery(BaseException):
    """What no library should raise, and one will."""


@pytest.mark.parametrize("fault", [ValueError("odd frame"), RuntimeError("driver bug"), _Mystery("deep")],
                         ids=lambda f: type(f).__name__)
def test_any_exception_from_nfcpy_is_a_reader_fault_and_the_reader_carries_on(readers, collector, verify, member,
                                                                             fault):
    from floreyn.terminal.drivers.nfc_device import open_frontend

    port = free_udp_port()
    raised: list[BaseException] = []

    def opener(path: str):  # noqa: ANN202 - nfcpy's real frontend, whose first connect fails
        clf = open_frontend(path)
        if not raised:
            def broken(**_options):  # noqa: ANN202
                raised.append(fault)
                raise fault
            clf.connect = broken
        return clf

    reader = NfcCardReader(verify, f"udp:127.0.0.1:{port}", backoff_initial_s=0.05, backoff_max_s=0.2, opener=opener)
    readers.append(reader)
    reader.start(collector.on_card, collector.on_status)
    with EmulatedType3Tag(encode_card_message(member.payload()), port=port):
        (event,) = collector.wait_cards(1)
    assert raised == [fault] and event.card == member
    assert any(type(fault).__name__ in s.message for s in collector.statuses)  # the status line said why
    assert reader._thread is not None and reader._thread.is_alive()
