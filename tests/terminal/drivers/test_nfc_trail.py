"""The card's offline trail through nfcpy against emulated NTAG213 and NTAG215 on the udp radio.

A format-2 card is issued by the desk (trail pages 4-12 below AUTH0 = 13),
then read by the till's reader, which hands the engine a port to the trail
while the card lies there: writes go through the reader thread as plain
Type 2 WRITEs (no password), are read back, and never touch the signed
record; a card taken away refuses the write.
"""

from __future__ import annotations

import pytest

from floreyn import cardtrail
from floreyn.terminal.drivers.base import CardPresented, CardRemovedTooEarly
from floreyn.terminal.drivers.ndef_card import encode_card_message
from floreyn.terminal.drivers.nfc_emulator_ntag import EmulatedNtag
from floreyn.terminal.drivers.nfc_reader import NfcCardReader
from floreyn.terminal.drivers.nfc_writer import CardWriter

PASSWORD_KEY = bytes(range(16))
T2 = ("106A",)


def memory(tag) -> bytes:
    with tag._lock:
        return bytes(tag._memory)


def area_of(tag) -> cardtrail.TrailArea:
    area = cardtrail.parse_area(memory(tag)[16 : 16 + cardtrail.AREA_BYTES])
    assert area is not None
    return area


@pytest.mark.parametrize("model", ["NTAG213", "NTAG215"])
def test_the_till_writes_the_trail_in_the_tap_and_reads_it_back(verify, member, readers, collector, model):
    with EmulatedNtag(model=model) as tag:
        CardWriter(tag.path, targets=T2).write(member, verify, password_key=PASSWORD_KEY)
        record_pages = memory(tag)[4 * cardtrail.NDEF_PAGE : 4 * (cardtrail.NDEF_PAGE + 27)]
        reader = NfcCardReader(verify, tag.path, targets=T2)
        readers.append(reader)
        reader.start(collector.on_card, collector.on_status)
        (event,) = collector.wait_cards(1)
        assert isinstance(event, CardPresented) and event.card == member
        port = event.trail
        assert port is not None and port.area is not None and port.area.current is None  # blank at issue
        first = port.write(cardtrail.Trail(0, 41, 1_250, cardtrail.till_tag("T-bakker-1"), 17))
        assert (first.spent_cents, first.state_version, first.till_seq) == (1_250, 41, 17)
        assert area_of(tag).current == first  # on the card, as the port said after reading it back
        second = port.write(cardtrail.Trail(0, 41, 2_000, cardtrail.till_tag("T-bakker-1"), 18))
        assert area_of(tag).current == second and area_of(tag).slots[0] == first  # the other slot: old kept
        # The signed record, its password protection and a phone's view of it are untouched.
        assert memory(tag)[4 * cardtrail.NDEF_PAGE : 4 * (cardtrail.NDEF_PAGE + 27)] == record_pages
        assert tag.ndef_octets == encode_card_message(member.payload()) and tag.auth0 == cardtrail.NDEF_PAGE
        assert memory(tag)[15] == 0x00  # CC access byte: read and write as far as Android can tell
        tag.remove()
        with pytest.raises(CardRemovedTooEarly):  # the card left: the till must refuse the offline spend
            port.write(cardtrail.Trail(0, 41, 2_500, 1, 19))
        assert area_of(tag).current == second


def test_a_format_1_card_has_no_trail_so_the_reader_offers_no_port(verify, issuer, readers, collector):
    from floreyn import card as floreyn_card

    old = floreyn_card.issue(issuer, bytes(range(16)), version=1)
    with EmulatedNtag(encode_card_message(old.payload())) as tag:
        reader = NfcCardReader(verify, tag.path, targets=T2)
        readers.append(reader)
        reader.start(collector.on_card, collector.on_status)
        (event,) = collector.wait_cards(1)
        assert isinstance(event, CardPresented) and event.card == old and event.trail is None


def test_writing_the_record_pages_without_the_password_is_refused_by_the_tag(verify, member):
    """What makes the trail safe to leave open: the till's plain writes cannot reach the signed record."""
    import nfc

    with EmulatedNtag(model="NTAG213") as tag:
        CardWriter(tag.path, targets=T2).write(member, verify, password_key=PASSWORD_KEY)
        before = memory(tag)
        clf = nfc.ContactlessFrontend(tag.path)
        try:
            found = clf.connect(rdwr={"targets": list(T2), "on-connect": lambda t: False}, terminate=lambda: False)
            with pytest.raises(nfc.tag.TagCommandError):
                found.write(cardtrail.NDEF_PAGE, b"\x00\x00\x00\x00")
        finally:
            clf.close()
        assert memory(tag)[4 * cardtrail.NDEF_PAGE :] == before[4 * cardtrail.NDEF_PAGE :]
