"""The emulated NTAG21x against NXP's NTAG213/215/216 datasheet, spoken to through nfcpy's udp radio.

The suite's cards are only as strict as this emulation: where it is kinder
than silicon, a test passes that a real card would fail.
"""

from __future__ import annotations

import nfc
import nfc.clf
import nfc.tag.tt2
import pytest
from ntag_session import nfcpy_tag

from floreyn.terminal.drivers.nfc_emulator_ntag import EmulatedNtag


@pytest.mark.parametrize(
    "model, cc, user_pages",
    [
        ("NTAG213", "E1101200", "0103A00C" "340300FE"),  # Lock Control TLV, empty NDEF TLV, terminator
        ("NTAG215", "E1103E00", "0300FE00" "00000000"),
        ("NTAG216", "E1106D00", "0300FE00" "00000000"),
    ],
)
def test_factory_memory_is_as_shipped(model, cc, user_pages):
    with EmulatedNtag(model=model) as emulated, nfcpy_tag(emulated) as tag:
        assert tag.product == f"NXP {model}"
        page3 = bytes(tag.read(3))
        assert page3[0:4].hex().upper() == cc and page3[4:12].hex().upper() == user_pages
        cfg = bytes(tag.read(emulated.cfg_page))
        assert cfg.hex().upper() == "040000FF" "00050000" "00000000" "00000000"  # PWD, PACK read as zeros
        assert tag.ndef is not None and tag.ndef.length == 0 and tag.ndef.is_writeable
        assert tag.ndef.capacity == {"NTAG213": 137, "NTAG215": 492, "NTAG216": 868}[model]


def test_read_sig_answers_a_fixed_nonzero_signature():
    with EmulatedNtag() as emulated, nfcpy_tag(emulated) as tag:
        signature = tag.signature
        assert len(signature) == 32 and signature != bytes(32) and tag.signature == signature


def test_page_2_keeps_bcc1_and_the_internal_byte_and_lock_bits_only_add():
    with EmulatedNtag() as emulated, nfcpy_tag(emulated) as tag:
        before = bytes(tag.read(2)[0:4])
        tag.write(2, b"\x00\x00\x10\x00")  # BCC1 and internal "zeroed", lock bit L4 set
        after = bytes(tag.read(2)[0:4])
        assert after[0:2] == before[0:2] and after[2] == before[2] | 0x10
        tag.write(2, b"\xff\xff\x00\x00")
        assert bytes(tag.read(2)[0:4])[2] == after[2]  # a lock bit cannot be cleared
        with pytest.raises(nfc.tag.tt2.Type2TagCommandError):
            tag.write(4, b"\x01\x02\x03\x04")  # page 4 is locked now


def test_fast_read_returns_the_page_range():
    with EmulatedNtag() as emulated, nfcpy_tag(emulated) as tag:
        assert bytes(tag.transceive(b"\x3a\x03\x08")) == bytes(tag.read(3)) + bytes(tag.read(7)[0:8])
        assert bytes(tag.transceive(b"\x3a\x05\x04")) == b"\x00"  # end before start: NAK


def test_a_halted_tag_answers_wupa_only():
    # nfcpy's udp driver directly: ContactlessFrontend.sense switches the field off between polls,
    # and a tag without power forgets HALT (as silicon does).
    with EmulatedNtag() as emulated:
        clf = nfc.ContactlessFrontend(emulated.path)
        try:
            radio = clf.device
            target = radio.sense_tta(nfc.clf.RemoteTarget("106A"))  # REQA, anticollision, select
            assert target is not None
            with pytest.raises(nfc.clf.TimeoutError):  # HLTA has no answer
                radio.send_cmd_recv_rsp(target, bytearray(b"\x50\x00"), 0.1)
            assert radio.sense_tta(nfc.clf.RemoteTarget("106A")) is None  # REQA: silence while halted
            assert radio.sense_tta(nfc.clf.RemoteTarget("106A", sens_req=bytearray(b"\x52"))) is not None
        finally:
            clf.close()


def test_authlim_and_cfglck_are_enforced():
    with EmulatedNtag() as emulated:
        cfg = emulated.cfg_page
        with nfcpy_tag(emulated) as tag:
            tag.write(cfg + 2, b"\x11\x22\x33\x44")  # PWD
            tag.write(cfg + 1, b"\x42\x05\x00\x00")  # ACCESS: CFGLCK, AUTHLIM 2
        with nfcpy_tag(emulated) as tag:  # configuration applies from this activation
            with pytest.raises(nfc.tag.tt2.Type2TagCommandError):
                tag.write(cfg, b"\x04\x00\x00\x04")  # CFG0 is locked
        with nfcpy_tag(emulated) as tag:
            with pytest.raises(nfc.tag.tt2.Type2TagCommandError):
                tag.write(cfg + 1, b"\x00\x05\x00\x00")  # and CFG1 too
        with nfcpy_tag(emulated) as tag:
            tag.write(cfg + 2, b"\x55\x66\x77\x88")  # PWD stays writable
        for _ in range(2):
            with nfcpy_tag(emulated) as tag:
                assert not tag.authenticate(b"\x00" * 6)
        with nfcpy_tag(emulated) as tag:
            assert not tag.authenticate(b"\x55\x66\x77\x88\x00\x00")  # AUTHLIM reached: blocked for good
        assert emulated.failed_auths == 2
