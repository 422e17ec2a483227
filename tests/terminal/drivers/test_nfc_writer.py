"""Provisioning writes through nfcpy to emulated NTAG215 and Type 3 tags, then the reader reads them."""

from __future__ import annotations

import time

import ndef
import nfc.tag.tt2
import pytest
from ntag_session import nfcpy_tag

from floreyn import card as floreyn_card
from floreyn.terminal.drivers.base import (
    CardNotBlank,
    CardNotPresented,
    CardPresented,
    CardRemovedTooEarly,
    CardUnsupported,
    CardWriteProtected,
    ReaderUnavailable,
)
from floreyn.terminal.drivers.ndef_card import encode_card_message
from floreyn.terminal.drivers.nfc_emulator import EmulatedType3Tag, free_udp_port
from floreyn.terminal.drivers.nfc_emulator_ntag import EmulatedNtag
from floreyn.terminal.drivers.nfc_reader import NfcCardReader
from floreyn.terminal.drivers.nfc_writer import AUTH_LIMIT, PHONE_CC_ACCESS, PROTECT_FROM_PAGE, CardWriter

PASSWORD_KEY = bytes(range(16))  # the cooperative's NTAG diversification key (test value)
T2, T3 = ("106A",), ("212F",)


def memory(tag) -> bytes:
    with tag._lock:
        return bytes(tag._memory)


def test_blank_ntag215_is_written_verified_and_password_protected(verify, member, readers, collector):
    with EmulatedNtag() as tag:
        result = CardWriter(tag.path, targets=T2).write(member, verify, password_key=PASSWORD_KEY)
        assert (result.uid, result.product, result.protected, result.already_written) == (
            tag.uid,
            "NXP NTAG215",
            True,
            False,
        )
        assert tag.ndef_octets == encode_card_message(member.payload())
        assert tag.password == floreyn_card.ntag_password(PASSWORD_KEY, tag.uid)  # diversified per UID
        assert tag.auth0 == 3  # from the capability container on, writes need the password
        reader = NfcCardReader(verify, tag.path, targets=T2)
        readers.append(reader)
        reader.start(collector.on_card, collector.on_status)
        (event,) = collector.wait_cards(1)
    assert event == CardPresented(member, tag.uid)


def test_writing_the_same_card_again_changes_nothing(verify, member):
    with EmulatedNtag() as tag:
        writer = CardWriter(tag.path, targets=T2)
        writer.write(member, verify, password_key=PASSWORD_KEY)
        before = memory(tag)
        again = writer.write(member, verify, password_key=PASSWORD_KEY)
        assert again.already_written and again.protected
        assert memory(tag) == before


def test_a_protected_card_cannot_be_rewritten_without_its_password(verify, member, issuer):
    other = floreyn_card.issue(issuer)
    with EmulatedNtag() as tag:
        writer = CardWriter(tag.path, targets=T2)
        writer.write(member, verify, password_key=PASSWORD_KEY)
        before = memory(tag)
        with pytest.raises(CardWriteProtected):
            writer.write(other, verify, overwrite=True)
        assert memory(tag) == before
        # the cooperative, holding the key, can reissue it
        result = writer.write(other, verify, overwrite=True, password_key=PASSWORD_KEY)
        assert result.protected and tag.ndef_octets == encode_card_message(other.payload())


def test_a_card_holding_other_data_is_refused_unless_overwrite(verify, member):
    foreign = b"".join(ndef.message_encoder([ndef.UriRecord("https://example.org/")]))
    with EmulatedType3Tag(foreign) as tag:
        writer = CardWriter(tag.path, targets=T3)
        before = memory(tag)
        with pytest.raises(CardNotBlank) as refused:
            writer.write(member, verify)
        assert "overschrijven" in refused.value.message("nl")
        assert memory(tag) == before
        result = writer.write(member, verify, overwrite=True)
        assert not result.protected and tag.ndef_octets == encode_card_message(member.payload())


def test_mifare_classic_is_refused(verify, member):
    with EmulatedNtag.mifare_classic() as tag:
        with pytest.raises(CardUnsupported) as refused:
            CardWriter(tag.path, targets=T2).write(member, verify)
    assert "MIFARE Classic" in refused.value.message("nl")
    assert not any(frame[0] == 0xA2 for frame in tag.frames)  # nothing was written


def test_password_on_a_tag_without_one_is_refused_before_writing(verify, member):
    with EmulatedType3Tag(b"") as tag:
        with pytest.raises(CardUnsupported):
            CardWriter(tag.path, targets=T3).write(member, verify, password_key=PASSWORD_KEY)
        assert tag.ndef_octets == b""


def test_a_tag_too_small_for_the_record_is_refused(verify, member):
    with EmulatedType3Tag(b"", capacity_blocks=4) as tag:  # 64 bytes; the record needs 100
        with pytest.raises(CardUnsupported) as refused:
            CardWriter(tag.path, targets=T3).write(member, verify)
        assert "geheugen" in refused.value.message("nl")
        assert tag.ndef_octets == b""


def test_card_taken_away_mid_write_is_reported_and_not_issued(verify, member):
    with EmulatedNtag() as probe:  # count the commands of a complete write first
        CardWriter(probe.path, targets=T2).write(member, verify)
        complete = probe.commands
    with EmulatedNtag(mute_after_commands=complete // 2) as tag:
        with pytest.raises(CardRemovedTooEarly):
            CardWriter(tag.path, targets=T2).write(member, verify)
        assert tag.gone


def test_no_card_within_the_timeout_is_a_typed_refusal(verify, member):
    started = time.monotonic()
    with pytest.raises(CardNotPresented):
        CardWriter(f"udp:127.0.0.1:{free_udp_port()}", targets=T3).write(member, verify, timeout_s=0.3)
    assert time.monotonic() - started < 2.0  # one udp poll past the timeout at most


def test_missing_reader_is_reader_unavailable_with_a_hint(verify, member):
    with pytest.raises(ReaderUnavailable) as refused:
        CardWriter("tty:USB97:pn532").write(member, verify, timeout_s=0.5)
    assert "/dev/ttyUSB97" in refused.value.message("nl")


@pytest.mark.parametrize("make", [lambda: EmulatedType3Tag(None), lambda: EmulatedType3Tag(b"", read_only=True)])
def test_unformatted_or_read_only_tags_are_typed_refusals(verify, member, make):
    with make() as tag:
        before = memory(tag)
        with pytest.raises((CardUnsupported, CardWriteProtected)):
            CardWriter(tag.path, targets=T3).write(member, verify)
        assert memory(tag) == before


def test_an_issued_card_has_a_capability_container_phones_accept(verify, member):
    with EmulatedNtag() as tag:
        CardWriter(tag.path, targets=T2).write(member, verify, password_key=PASSWORD_KEY)
        cc = tag.page(3)
        # Android (libnfc-nci rw_t2t_handle_cc_read_rsp) reads NDEF only with access 0x00 or 0x0F;
        # nfcpy's protect() would have made it 0x08 here.
        assert cc == bytes.fromhex("E1103E00") and cc[3] in PHONE_CC_ACCESS
        with nfcpy_tag(tag) as read:  # a phone: no password, reads the record
            assert read.ndef is not None and bytes(read.ndef.octets) == encode_card_message(member.payload())
            with pytest.raises(nfc.tag.tt2.Type2TagCommandError):  # but the tag refuses a write
                read.write(4, b"\x00\x00\x00\x00")
        assert tag.ndef_octets == encode_card_message(member.payload())


def test_an_issued_card_limits_password_tries_and_locks_its_configuration(verify, member):
    with EmulatedNtag() as tag:
        CardWriter(tag.path, targets=T2).write(member, verify, password_key=PASSWORD_KEY)
        assert tag.access & 0x07 == AUTH_LIMIT and 0 < AUTH_LIMIT <= 7  # AUTHLIM
        assert tag.access & 0x40  # CFGLCK
        assert tag.access & 0x80 == 0  # PROT off: reading stays open
        assert tag.page(tag.cfg_page + 1)[1:] == b"\x05\x00\x00"  # the RFU bytes as shipped
        good = b"".join(floreyn_card.ntag_password(PASSWORD_KEY, tag.uid))
        with nfcpy_tag(tag) as read:
            assert read.authenticate(good)  # the desk can still re-issue
            cfg0 = bytes(read.read(tag.cfg_page)[0:4])
            with pytest.raises(nfc.tag.tt2.Type2TagCommandError):  # CFGLCK: AUTH0 stays where it is
                read.write(tag.cfg_page, cfg0[:3] + b"\xff")
        assert tag.auth0 == PROTECT_FROM_PAGE
        for _ in range(AUTH_LIMIT):  # a wrong PWD_AUTH is NAKed and the tag falls idle: one try per activation
            with nfcpy_tag(tag) as thief:
                assert not thief.authenticate(b"\x00" * 6)
        assert tag.failed_auths == AUTH_LIMIT
        with nfcpy_tag(tag) as owner:  # the limit is reached: even the right password is refused now
            assert not owner.authenticate(good)
        with nfcpy_tag(tag) as phone:
            assert bytes(phone.ndef.octets) == encode_card_message(member.payload())  # still readable


@pytest.mark.parametrize("model", ["NTAG213", "NTAG216"])
def test_other_ntag_models_as_shipped_are_written_and_protected(verify, member, model):
    with EmulatedNtag(model=model) as tag:  # NTAG213 carries NXP's Lock Control TLV before the NDEF TLV
        result = CardWriter(tag.path, targets=T2).write(member, verify, password_key=PASSWORD_KEY)
        assert result.protected and result.product == f"NXP {model}"
        assert tag.ndef_octets == encode_card_message(member.payload())
        assert tag.page(3)[3] in PHONE_CC_ACCESS and tag.auth0 == PROTECT_FROM_PAGE
