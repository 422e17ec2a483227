"""The member card's NDEF message: one external record `floreyn.nl:c` holding the card payload.

Kept apart from the nfcpy code so the reader, the writer, the emulator and the
provisioning tool agree on the bytes without importing a radio stack.
"""

from __future__ import annotations

from typing import Final

import ndef

from floreyn.card import NDEF_TYPE, PAYLOAD_LEN, CardDamaged, NotAFloreynCard

# A short record (SR) header + type length + payload length + 12 type bytes.
MESSAGE_LEN: Final = 3 + len(NDEF_TYPE.removeprefix("urn:nfc:ext:")) + PAYLOAD_LEN
_TYPE_BYTES: Final = NDEF_TYPE.removeprefix("urn:nfc:ext:").encode("ascii")
MAX_MESSAGE_BYTES: Final = 1024  # no tag we support holds more; larger is not our card


def encode_card_message(payload: bytes) -> bytes:
    """The NDEF message octets a card carries (no Type 2 TLV; nfcpy adds that per tag type)."""
    octets = b"".join(ndef.message_encoder([ndef.Record(NDEF_TYPE, "", bytes(payload))]))
    assert len(payload) != PAYLOAD_LEN or len(octets) == MESSAGE_LEN
    return octets


def card_payload_from_ndef(octets: bytes) -> bytes:
    """The card payload inside an NDEF message, or a typed refusal.

    An empty or unrelated message is not our card; a message that names our
    record type but does not decode, or holds it twice, is a damaged one.
    """
    if not octets or len(octets) > MAX_MESSAGE_BYTES:
        raise NotAFloreynCard()
    try:
        records = list(ndef.message_decoder(bytes(octets), errors="strict"))
    except ndef.DecodeError:
        # A torn write or a half-read leaves a broken message; only call it ours if it says so.
        raise (CardDamaged() if _TYPE_BYTES in octets else NotAFloreynCard()) from None
    ours = [record for record in records if record.type == NDEF_TYPE]
    if not ours:
        raise NotAFloreynCard()
    if len(ours) > 1:
        raise CardDamaged()
    return bytes(ours[0].data)
