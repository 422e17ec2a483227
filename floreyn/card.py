"""The member card: one NDEF external record on an NTAG213/215/216.

Payload layout of card format versions 1 and 2 (87 bytes):

    magic     2   b"FC"
    version   u8  1 or 2
    card_id   16  random 128 bits, the member's card number
    key_id    4   which cooperative card-issuing key signed it (allows key rotation)
    signature 64  Ed25519 over b"floreyn/card/v1\\0" + the 23 bytes above

The NDEF message wraps it in one short external-type record "floreyn.nl:c";
with the Type 2 TLV and terminator that is 87 + 15 + 3 = 105 bytes, well
inside NTAG213's 144 bytes of user memory.

Format 2 (issue 14) is the same payload on a tag laid out for the offline
trail: a 36-byte proprietary TLV with the trail at pages 4-12, below AUTH0,
then this NDEF TLV from page 13 (36 + 105 = 141 of NTAG213's 144 bytes), and
AUTH0 = 13 (floreyn/cardtrail.py says why and how). The version byte is
signed, so a format-1 card cannot pass for format 2. Tills keep reading
format-1 cards (AUTH0 = 4: nothing writable, so no offline spend: a card
whose trail cannot be updated cannot be bounded; the desk replaces them).

A terminal tells a genuine card offline with only the cooperative's public
keys. A signature cannot stop a card being copied byte for byte onto another
tag: that is what the blocklist, the per-card offline allowance and the
NTAG write password (diversified per card with AES-CMAC) are for.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Final, Mapping

from floreyn import keys
from floreyn.errors import FloreynError
from floreyn.keys import PrivateKey, PublicKey

MAGIC: Final = b"FC"
CARD_VERSION: Final = 2  # what the desk issues now
READABLE_VERSIONS: Final = frozenset({1, 2})
TRAIL_VERSION: Final = 2  # from this format on the tag carries the offline trail (floreyn/cardtrail.py)
CARD_ID_LEN: Final = 16
PAYLOAD_LEN: Final = 2 + 1 + CARD_ID_LEN + keys.KEY_ID_LEN + keys.SIGNATURE_LEN
SIG_DOMAIN: Final = b"floreyn/card/v1\x00"
NDEF_TYPE: Final = "urn:nfc:ext:floreyn.nl:c"
NTAG213_USER_BYTES: Final = 144


class CardError(FloreynError):
    code = "card"
    msgid = "This card cannot be read."


class NotAFloreynCard(CardError):
    code = "card_foreign"
    msgid = "This is not a Floreyn card."


class CardDamaged(CardError):
    code = "card_damaged"
    msgid = "The card is damaged or was not read completely. Hold it still on the reader and try again."


class CardUnknownVersion(CardError):
    code = "card_unknown_version"
    msgid = "This card has a newer format ({version}); update the till."


class CardUnknownKey(CardError):
    code = "card_unknown_key"
    msgid = "This card was issued with an unknown key."


class CardTampered(CardError):
    code = "card_tampered"
    msgid = "The card has been forged or altered. Do not accept it."


@dataclass(frozen=True, slots=True)
class Card:
    """A verified (or freshly issued) member card."""

    card_id: bytes
    key_id: bytes
    signature: bytes
    version: int = CARD_VERSION

    def __post_init__(self) -> None:
        assert len(self.card_id) == CARD_ID_LEN and len(self.key_id) == keys.KEY_ID_LEN
        assert len(self.signature) == keys.SIGNATURE_LEN

    @property
    def card_hex(self) -> str:
        return self.card_id.hex()

    @property
    def masked(self) -> str:
        """What a receipt prints: enough to tell cards apart, not enough to copy one."""
        return mask_card_id(self.card_id)

    @property
    def has_trail(self) -> bool:
        """Laid out with the offline trail below AUTH0 (format 2 on)."""
        return self.version >= TRAIL_VERSION

    def payload(self) -> bytes:
        return _signed_part(self.card_id, self.key_id, self.version) + self.signature


def mask_card_id(card_id: bytes) -> str:
    return "•••• " + card_id.hex()[-4:].upper()


def new_card_id() -> bytes:
    return os.urandom(CARD_ID_LEN)


def _signed_part(card_id: bytes, key_id: bytes, version: int = CARD_VERSION) -> bytes:
    return MAGIC + bytes([version]) + card_id + key_id


def issue(issuer: PrivateKey, card_id: bytes | None = None, version: int = CARD_VERSION) -> Card:
    """Sign a card with the cooperative's card-issuing key (version 1 only to make old cards in tests)."""
    card_id = new_card_id() if card_id is None else card_id
    if len(card_id) != CARD_ID_LEN:
        raise ValueError("a card id is 16 bytes")
    if version not in READABLE_VERSIONS:
        raise ValueError(f"card format {version} is not one this code knows")
    kid = keys.key_id(issuer)
    sig = issuer.sign(SIG_DOMAIN + _signed_part(card_id, kid, version))
    return Card(card_id, kid, sig, version)


def parse_payload(payload: bytes) -> Card:
    """Read a payload without checking its signature; typed errors for everything else."""
    if not isinstance(payload, (bytes, bytearray)):
        raise CardDamaged()
    payload = bytes(payload)
    if len(payload) < 3 or payload[:2] != MAGIC:
        raise NotAFloreynCard()
    if payload[2] not in READABLE_VERSIONS:
        raise CardUnknownVersion(version=payload[2])
    if len(payload) != PAYLOAD_LEN:
        raise CardDamaged()
    card_id = payload[3 : 3 + CARD_ID_LEN]
    key_id = payload[3 + CARD_ID_LEN : 3 + CARD_ID_LEN + keys.KEY_ID_LEN]
    return Card(card_id, key_id, payload[-keys.SIGNATURE_LEN :], version=payload[2])


def verify_payload(payload: bytes, issuers: Mapping[bytes, PublicKey]) -> Card:
    """Parse and verify a card payload against the cooperative's public keys (by key id)."""
    card = parse_payload(payload)
    public = issuers.get(card.key_id)
    if public is None:
        raise CardUnknownKey()
    if not keys.verify(public, card.signature, SIG_DOMAIN + _signed_part(card.card_id, card.key_id, card.version)):
        raise CardTampered()
    return card


def issuer_map(publics: list[PublicKey] | list[bytes]) -> dict[bytes, PublicKey]:
    """key id -> public key, from raw or loaded public keys."""
    out: dict[bytes, PublicKey] = {}
    for pub in publics:
        loaded = keys.public_from_raw(pub) if isinstance(pub, bytes) else pub
        out[keys.key_id(loaded)] = loaded
    return out


def ntag_password(diversify_key: bytes, uid: bytes) -> tuple[bytes, bytes]:
    """The NTAG21x write password (4 bytes) and PACK (2 bytes) for one tag.

    Derived per tag as AES-CMAC(cooperative key, "floreyn/ntag-pwd" || UID),
    the usual key diversification (NXP AN10922), so learning one card's
    password (it travels in the clear over the air) opens no other card.
    """
    if len(diversify_key) not in (16, 32):
        raise ValueError("the diversification key is an AES-128 or AES-256 key")
    # Only the desk tool locks cards (terminal/drivers/nfc_writer.py): the till reads them and never loads AES.
    from cryptography.hazmat.primitives import cmac
    from cryptography.hazmat.primitives.ciphers import algorithms

    mac = cmac.CMAC(algorithms.AES(diversify_key))
    mac.update(b"floreyn/ntag-pwd" + uid)
    tag = mac.finalize()
    return tag[:4], tag[4:6]


def fingerprint(public: PublicKey) -> str:
    """A short, readable name for a key, for admins comparing keys by eye."""
    return hashlib.sha256(keys.public_raw(public)).hexdigest()[:16]
