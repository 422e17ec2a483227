"""The card's offline trail: what a card has spent offline, written on the card itself (issue 14).

Why: each till knows only its own offline spends, so a card visiting N tills
offline could spend N allowances. The card carries the count from till to
till, so every till subtracts what the others took.

What it counts: `spent_cents` is an odometer, every offline spend ever made
with the card (cents, only ever increased by honest tills). The server sums
the offline spends it has received per card (cards.offline_spent_cents, sent
as CardInfo.offline_uploaded_cents), so

    pending = odometer - uploaded      spent offline, not yet in the ledger

is exactly what a till must subtract from the allowance the server gave it,
without any reset protocol. Beside it the trail names the server state the
writer worked from (`state_version`, the card's CardInfo.state_version),
the writing till (`till`, a 16-bit tag of its terminal id) and that till's
record sequence number (`till_seq`), for the desk and for the staleness rule
below.

It can only lower an allowance: the trail is unsigned (anyone with a phone
can rewrite it), so no rule may read it to give more. A wiped or forged-low
trail brings a card back to the per-till caps, as before the trail
(`tills x cumulative cap` at most); a forged-high trail only blocks the card.

Layout on NTAG213/215/216 (card format 2, floreyn/card.py): the trail is a
proprietary TLV (type 0xFD, which NFC Forum Type 2 readers - Android, iOS,
nfcpy - skip) at the start of user memory, pages 4-12, BELOW AUTH0; the NDEF
TLV with the signed card record follows at page 13, and AUTH0 = 13 makes
everything from there write-protected by the card's diversified password. A
till therefore writes the trail with plain WRITE commands, needs no
password, and cannot rewrite the signed record. The CC stays 0x00 (read and
write access as far as a phone can tell; the password refuses the writes).

    page 4   0xFD  34  format=1  0          TLV header, trail format
    page 5-8   slot A (16 bytes)
    page 9-12  slot B (16 bytes)

    slot:  seq u16 | state_version u32 | spent_cents u32 | till u16 | till_seq u16 | crc16 u16

Two slots, a sequence number and a CRC: a write goes to the slot that does
not hold the newest valid entry, so a card pulled away mid-write leaves the
old entry whole (the torn slot fails its CRC) or the new one - never garbage.
An NTAG WRITE is atomic per 4-byte page; a slot is four pages.
"""

from __future__ import annotations

import binascii
import struct
from dataclasses import dataclass
from typing import Final

TLV_TYPE: Final = 0xFD  # NFC Forum Type 2 "proprietary TLV": readers skip it
TRAIL_FORMAT: Final = 1
FIRST_PAGE: Final = 4  # user memory starts at page 4 on every NTAG21x
SLOT_BYTES: Final = 16
AREA_BYTES: Final = 4 + 2 * SLOT_BYTES  # TLV header page + two slots = pages 4-12
AREA_PAGES: Final = AREA_BYTES // 4
NDEF_PAGE: Final = FIRST_PAGE + AREA_PAGES  # 13: the NDEF TLV and AUTH0 start here
SLOT_PAGES: Final = (FIRST_PAGE + 1, FIRST_PAGE + 1 + SLOT_BYTES // 4)  # first page of slot A, slot B
MAX_SPENT_CENTS: Final = 2**32 - 1  # fl 42.949.672,95: a card's lifetime of offline spends, far beyond any use
_SLOT = struct.Struct(">HIIHH")  # 14 bytes, then the CRC


@dataclass(frozen=True, slots=True)
class Trail:
    """One trail entry (what a slot holds)."""

    seq: int = 0  # slot sequence number, u16, compared with wrap-around
    state_version: int = 0  # the server state of this card the writer worked from
    spent_cents: int = 0  # odometer: every offline spend made with this card
    till: int = 0  # tag of the writing till's terminal id (till_tag)
    till_seq: int = 0  # low 16 bits of the writer's record sequence number

    def __post_init__(self) -> None:
        assert 0 <= self.seq < 2**16 and 0 <= self.state_version < 2**32
        assert 0 <= self.spent_cents <= MAX_SPENT_CENTS and 0 <= self.till < 2**16 and 0 <= self.till_seq < 2**16


EMPTY: Final = Trail()


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection): a torn or scribbled slot fails it.

    binascii's crc_hqx is that CRC from a given start value, in C: about 0.1 us for a slot against 15 us for
    the bit loop it replaced, which ran about five times in every offline spend (tag, write, read-back)."""
    return binascii.crc_hqx(data, 0xFFFF)


def till_tag(terminal_id: str) -> int:
    """The 16-bit name of a till on the card: enough for the desk to tell tills apart, not an identity."""
    return crc16(terminal_id.encode("utf-8"))


def encode_slot(entry: Trail) -> bytes:
    body = _SLOT.pack(entry.seq, entry.state_version, entry.spent_cents, entry.till, entry.till_seq)
    return body + crc16(body).to_bytes(2, "big")


def decode_slot(raw: bytes) -> Trail | None:
    """The entry, or None for a torn, blank or scribbled slot."""
    if len(raw) != SLOT_BYTES or raw == bytes(SLOT_BYTES) or crc16(raw[:14]) != int.from_bytes(raw[14:], "big"):
        return None
    return Trail(*_SLOT.unpack(raw[:14]))


def _newer(a: Trail, b: Trail) -> bool:
    """a is newer than b in 16-bit serial number arithmetic (RFC 1982)."""
    return 0 < (a.seq - b.seq) % 2**16 < 2**15


def header() -> bytes:
    return bytes([TLV_TYPE, AREA_BYTES - 2, TRAIL_FORMAT, 0])


@dataclass(frozen=True, slots=True)
class TrailArea:
    """The two slots as read from the card; `current` is the newest valid entry (None: wiped or blank)."""

    slots: tuple[Trail | None, Trail | None]

    @property
    def current(self) -> Trail | None:
        a, b = self.slots
        if a is None or b is None:
            return a or b
        return a if _newer(a, b) else b

    def next_write(self, entry: Trail) -> tuple[int, bytes]:
        """(first page, 16 bytes) to write `entry` without touching the slot that holds the newest entry."""
        cur = self.current
        seq = 1 if cur is None else (cur.seq + 1) % 2**16
        entry = Trail(seq, entry.state_version, entry.spent_cents, entry.till, entry.till_seq)
        index = 1 if cur is not None and cur is self.slots[0] else 0
        return SLOT_PAGES[index], encode_slot(entry)


def parse_area(raw: bytes) -> TrailArea | None:
    """The trail area (36 bytes from page 4), or None when the card has none (a format-1 card, a foreign tag)."""
    if len(raw) < AREA_BYTES or raw[0] != TLV_TYPE or raw[1] != AREA_BYTES - 2 or raw[2] != TRAIL_FORMAT:
        return None
    return TrailArea((decode_slot(raw[4:20]), decode_slot(raw[20:36])))


def blank_area() -> bytes:
    """What the desk writes at issue: the header and two empty slots."""
    return header() + bytes(2 * SLOT_BYTES)


# -- the rules a till applies (pure; terminal/engine/trail.py wires them in) ----------


@dataclass(frozen=True, slots=True)
class TrailView:
    """What a till concludes from a card's trail and its own figures."""

    pending_cents: int  # spent offline with this card, not in the till's allowance: subtract it
    stale: bool  # the card has seen a newer server state than this till: its allowance may be too high


def view(entry: Trail | None, *, state_version: int, uploaded_cents: int, local_cents: int) -> TrailView:
    """What to subtract, given the card's trail, the till's state for the card and its own unsynced spends.

    local_cents: this till's own offline spends on the card since its snapshot (it wrote them
    into the trail too, so when the trail is intact they are part of the odometer's pending).
    A wiped trail (None or an odometer below what the server has) falls back to local_cents:
    the per-till bound, never a higher allowance.
    """
    if entry is None:
        return TrailView(local_cents, False)
    pending = max(0, entry.spent_cents - uploaded_cents)
    return TrailView(max(pending, local_cents), entry.state_version > state_version)


def after_spend(entry: Trail | None, *, amount_cents: int, state_version: int, uploaded_cents: int,
                local_cents: int, till: int, till_seq: int) -> Trail:
    """The entry a till writes after an offline spend of amount_cents (seq is set by TrailArea.next_write).

    The odometer goes on from the larger of what the card says and what this till knows the card
    spent (uploaded + its own pending), so a wiped trail is rebuilt from the till's knowledge.
    """
    assert amount_cents > 0
    base = max(entry.spent_cents if entry else 0, uploaded_cents + local_cents)
    version = max(entry.state_version if entry else 0, state_version)
    return Trail(0, version, min(MAX_SPENT_CENTS, base + amount_cents), till, till_seq % 2**16)
