"""The member card payload: issue, verify offline, and refuse everything else by type."""

from __future__ import annotations

import json
from pathlib import Path

import ndef
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from floreyn import card, keys
from floreyn.card import (
    CardDamaged,
    CardError,
    CardTampered,
    CardUnknownKey,
    CardUnknownVersion,
    NotAFloreynCard,
)

VECTORS = json.loads((Path(__file__).parents[1] / "vectors" / "vectors_v1.json").read_text())["card_v1"]
ISSUER = keys.private_from_seed(bytes.fromhex(VECTORS["issuer_seed_hex"]))
ISSUERS = card.issuer_map([ISSUER.public_key()])


def test_vectors_verify_and_reissue_to_the_exact_bytes() -> None:
    assert keys.public_raw(ISSUER).hex() == VECTORS["issuer_public_hex"]
    for vector in VECTORS["cards"]:
        payload = bytes.fromhex(vector["payload_hex"])
        verified = card.verify_payload(payload, ISSUERS)
        assert verified.card_id.hex() == vector["card_id_hex"]
        assert verified.key_id.hex() == vector["key_id_hex"]
        # Ed25519 is deterministic: signing again must give the checked-in bytes.
        assert card.issue(ISSUER, verified.card_id, version=1).payload() == payload
        assert verified.version == 1 and not verified.has_trail  # format-1 cards stay readable


def test_card_fits_ntag213_as_one_ndef_record() -> None:
    payload = card.issue(ISSUER).payload()
    assert len(payload) == card.PAYLOAD_LEN == 87
    message = b"".join(ndef.message_encoder([ndef.Record(card.NDEF_TYPE, "", payload)]))
    tlv = bytes([0x03, len(message)]) + message + b"\xfe"  # Type 2 NDEF TLV and terminator
    assert len(tlv) <= card.NTAG213_USER_BYTES
    decoded = list(ndef.message_decoder(message))
    assert decoded[0].type == card.NDEF_TYPE and decoded[0].data == payload


def test_unknown_key_and_other_cooperatives_are_refused() -> None:
    other = keys.new_private_key()
    foreign = card.issue(other).payload()
    with pytest.raises(CardUnknownKey):
        card.verify_payload(foreign, ISSUERS)
    # A forger who copies our key id still cannot make the signature verify.
    forged = card.Card(bytes(16), keys.key_id(ISSUER), other.sign(b"x")).payload()
    with pytest.raises(CardTampered):
        card.verify_payload(forged, ISSUERS)


@pytest.mark.parametrize(
    ("payload", "error"),
    [
        (b"", NotAFloreynCard),
        (b"hello world, this is a business card", NotAFloreynCard),
        (b"FC\x03" + bytes(84), CardUnknownVersion),
        (b"FC\x01" + bytes(10), CardDamaged),
        (b"FC\x01" + bytes(200), CardDamaged),
    ],
)
def test_garbage_gives_a_typed_error(payload: bytes, error: type[CardError]) -> None:
    with pytest.raises(error) as info:
        card.verify_payload(payload, ISSUERS)
    assert info.value.message("nl")


def test_truncated_card_is_damaged_not_a_crash() -> None:
    payload = card.issue(ISSUER).payload()
    for cut in range(3, len(payload)):
        with pytest.raises(CardDamaged):
            card.verify_payload(payload[:cut], ISSUERS)


@settings(max_examples=300)
@given(st.data())
def test_any_flipped_byte_is_detected(data: st.DataObject) -> None:
    payload = bytearray(card.issue(ISSUER, bytes(range(16))).payload())
    index = data.draw(st.integers(0, len(payload) - 1))
    flip = data.draw(st.integers(1, 255))
    payload[index] ^= flip
    with pytest.raises(CardError):
        card.verify_payload(bytes(payload), ISSUERS)


@given(st.binary(max_size=200))
def test_random_bytes_never_crash(payload: bytes) -> None:
    with pytest.raises(CardError):
        card.verify_payload(payload, ISSUERS)


@given(st.binary(min_size=16, max_size=16))
def test_issue_verify_round_trip(card_id: bytes) -> None:
    issued = card.issue(ISSUER, card_id)
    assert card.verify_payload(issued.payload(), ISSUERS) == issued
    assert card.parse_payload(issued.payload()) == issued


def test_masked_card_id_shows_only_the_last_four() -> None:
    issued = card.issue(ISSUER, bytes.fromhex("00112233445566778899aabbccddeeff"))
    assert issued.masked == "•••• EEFF"


def test_ntag_password_is_diversified_per_tag() -> None:
    key = bytes(range(16))
    pwd1, pack1 = card.ntag_password(key, bytes.fromhex("04a1b2c3d4e5f6"))
    pwd2, _ = card.ntag_password(key, bytes.fromhex("04a1b2c3d4e5f7"))
    assert len(pwd1) == 4 and len(pack1) == 2 and pwd1 != pwd2
    # AES-CMAC is deterministic: same key and UID, same password (the writer and a later unlock agree).
    assert card.ntag_password(key, bytes.fromhex("04a1b2c3d4e5f6")) == (pwd1, pack1)
    with pytest.raises(ValueError):
        card.ntag_password(b"short", b"\x04")


def test_format_2_is_issued_and_its_version_byte_is_signed() -> None:
    issued = card.issue(ISSUER, bytes(range(16)))
    assert issued.version == card.CARD_VERSION == 2 and issued.has_trail
    assert card.verify_payload(issued.payload(), ISSUERS) == issued
    downgraded = bytearray(issued.payload())
    downgraded[2] = 1  # pass a format-2 card off as format 1 (or back): the signature covers the byte
    with pytest.raises(CardTampered):
        card.verify_payload(bytes(downgraded), ISSUERS)
