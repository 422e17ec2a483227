"""The card's offline trail through nfcpy: lay it out at issue, read it at a tap, write it and read it back.

Layout and rules: floreyn/cardtrail.py. The trail pages (4-12) lie below
AUTH0 (13 on a format-2 card), so plain Type 2 WRITE commands reach them
without the card's password; the signed record from page 13 on stays
protected. Every write is read back before it counts.
"""

from __future__ import annotations

from typing import Final

from floreyn import cardtrail
from floreyn.terminal.drivers.base import CardRemovedTooEarly, CardWriteFailed
from floreyn.terminal.drivers.nfc_device import NfcTag

# nfcpy product name -> the NTAG21x configuration page holding AUTH0 in byte 3 (NXP NTAG213/215/216 datasheet)
CONFIG_PAGE: Final = {"NXP NTAG213": 0x29, "NXP NTAG215": 0x83, "NXP NTAG216": 0xE3}
_EMPTY_NDEF_PAGE: Final = bytes([0x03, 0x00, 0xFE, 0x00])  # an empty NDEF TLV and the terminator


def auth0(tag: NfcTag) -> int | None:
    """The first password-protected page, or None for a tag we do not know the layout of."""
    page = CONFIG_PAGE.get(str(tag.product))
    if page is None:
        return None
    return int(tag.read(page)[3])


def password_protected(tag: NfcTag) -> bool:
    """Some user page needs the password to be written (AUTH0 at or below the configuration page)."""
    first = auth0(tag)
    return first is not None and first <= CONFIG_PAGE[str(tag.product)]


def lay_out(tag: NfcTag) -> None:
    """A blank trail area at pages 4-12 and an empty NDEF TLV at page 13 (desk, before the record)."""
    area = cardtrail.blank_area()
    for i in range(cardtrail.AREA_PAGES):
        tag.write(cardtrail.FIRST_PAGE + i, area[4 * i : 4 * i + 4])
    tag.write(cardtrail.NDEF_PAGE, _EMPTY_NDEF_PAGE)
    tag._ndef = None  # nfcpy caches the NDEF view: it must find the NDEF TLV at its new place


def read_area(tag: NfcTag) -> cardtrail.TrailArea | None:
    """The trail as on the card now (None: no trail area, e.g. a format-1 card)."""
    raw = b"".join(bytes(tag.read(cardtrail.FIRST_PAGE + 4 * i)) for i in range(3))  # 3 x 16 bytes
    return cardtrail.parse_area(raw[: cardtrail.AREA_BYTES])


def write_entry(tag: NfcTag, entry: cardtrail.Trail) -> cardtrail.Trail:
    """Write `entry` to the free slot and read the card back; the entry as the card now holds it.

    Raises CardRemovedTooEarly or CardWriteFailed: the caller must then refuse the offline spend.
    """
    try:
        area = read_area(tag)
        if area is None:
            raise CardWriteFailed(detail="geen spoor-gebied op de pas")
        page, data = area.next_write(entry)
        for i in range(4):
            tag.write(page + i, data[4 * i : 4 * i + 4])
        now = read_area(tag)
    except CardWriteFailed:
        raise
    except Exception as exc:  # nfcpy's TagCommandError, a timeout, a tag gone
        raise _lost_or_failed(tag) from exc
    written = cardtrail.decode_slot(data)
    if now is None or now.current != written or written is None:
        raise CardWriteFailed(detail="teruggelezen spoor wijkt af")
    return written


def _lost_or_failed(tag: NfcTag) -> Exception:
    try:
        present = bool(tag.is_present)
    except Exception:
        present = False
    return CardWriteFailed(detail="spoor schrijven mislukt") if present else CardRemovedTooEarly()
